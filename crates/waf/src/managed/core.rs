//! The `core` group: injection and traversal classes in every input, in the spirit of OWASP
//! CRS and AWS's core rule set. Patterns describe classes of attack (a shell command after a
//! separator, a `../` in any spelling), never single payloads.

use std::sync::LazyLock;

use regex::bytes::RegexSet;

use super::protocol::Protocol;
use super::{set, set_ci, Detector, Fold, Group, ManagedRule, Sensitivity, ALL, ARGS};
use crate::inputs::Part;

pub(super) static GROUP: Group = Group { name: "core", versions: &["1"], rules: RULES };

static RULES: &[ManagedRule] = &[
    rule("SQLi", ALL, Detector::Sqli, Sensitivity::Low),
    rule("XSS", ALL, Detector::Xss, Sensitivity::Low),
    rule("PathTraversal", ALL, Detector::Patterns(&TRAVERSAL, Fold::Path), Sensitivity::Low),
    rule("SSRF_Metadata", ALL, Detector::Patterns(&SSRF, Fold::Caseless), Sensitivity::Low),
    rule("RemoteFileInclusion", ARGS, Detector::Patterns(&RFI, Fold::Caseless), Sensitivity::Low),
    rule("CommandInjection", ALL, Detector::Patterns(&COMMAND, Fold::Shell), Sensitivity::Low),
    rule("CommandInjection_Broad", ARGS, Detector::Patterns(&COMMAND_BROAD, Fold::Shell), Sensitivity::High),
    rule("TemplateInjection", ALL, Detector::Patterns(&TEMPLATE, Fold::Caseless), Sensitivity::Low),
    rule("XXE", &[Part::Body, Part::Query], Detector::Patterns(&XXE, Fold::Caseless), Sensitivity::Low),
    rule("LDAPInjection", ARGS, Detector::Patterns(&LDAP, Fold::Caseless), Sensitivity::Low),
    rule("NoSQLInjection", ARGS, Detector::Patterns(&NOSQL, Fold::Caseless), Sensitivity::Low),
    rule("MailInjection", ARGS, Detector::Patterns(&MAIL, Fold::Caseless), Sensitivity::Low),
    rule("SSIInjection", ALL, Detector::Patterns(&SSI, Fold::Caseless), Sensitivity::Low),
    rule("HeaderInjection_CRLF", ARGS, Detector::Patterns(&CRLF, Fold::Caseless), Sensitivity::Low),
    rule(
        "ProtocolAnomaly_NullByte",
        &[Part::Path, Part::Header],
        Detector::Patterns(&NUL, Fold::Exact),
        Sensitivity::Low,
    ),
    // Protocol rules read the request as a whole; their parts say what they need read.
    rule(
        "ProtocolAnomaly_BodyOnGetOrHead",
        &[Part::Body],
        Detector::Protocol(Protocol::BodyOnGetOrHead),
        Sensitivity::Low,
    ),
    rule(
        "ProtocolAnomaly_MultipleContentType",
        &[Part::Header],
        Detector::Protocol(Protocol::MultipleContentType),
        Sensitivity::Low,
    ),
    rule(
        "ProtocolAnomaly_InvalidMultipart",
        &[Part::Body],
        Detector::Protocol(Protocol::InvalidMultipart),
        Sensitivity::Low,
    ),
    rule("ProtocolAnomaly_InvalidRange", &[Part::Header], Detector::Protocol(Protocol::InvalidRange), Sensitivity::Low),
    rule(
        "ProtocolAnomaly_InvalidUrlEncoding",
        &[Part::Path, Part::Query, Part::Body],
        Detector::Protocol(Protocol::InvalidUrlEncoding),
        Sensitivity::Low,
    ),
    rule("SizeRestrictions_URIPath", &[Part::Path], Detector::LongerThan(2048), Sensitivity::Low),
    rule("SizeRestrictions_Cookie", &[Part::Cookie], Detector::LongerThan(4096), Sensitivity::Low),
    rule("SizeRestrictions_QueryArgument", &[Part::Query], Detector::LongerThan(8192), Sensitivity::Low),
];

const fn rule(name: &'static str, parts: &'static [Part], detector: Detector, from: Sensitivity) -> ManagedRule {
    ManagedRule { name, parts, detector, from, counts: false }
}

/// `../` in any spelling the path fold leaves, and the files traversal goes for.
static TRAVERSAL: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"(?:^|[/.;=])\.{2,}[;.]*(?:/|$)",
        r"(?:/\.){2,}/",
        r"\.\.(?:2f|5c)",
        r"(?:^|/)etc/+(?:passwd|shadow|group|hosts|hostname|issue|motd|fstab|crontab|sudoers|resolv\.conf|httpd|apache2?|nginx|mysql|php|ssh|init\.d|profile|environment)",
        r"(?:^|/)(?:proc|sys|dev)/+(?:self|\d+|cpuinfo|meminfo|version|partitions|mounts|net|kernel|class|block|tcp|fd|stdin|stdout|null|random)",
        r"(?:^|/)(?:var|usr)/+(?:log|adm|mail|spool|www|lib|local|apache|nginx|mysql|run)/",
        r"\b(?:boot|win|system|php|my|desktop)\.ini\b",
        r"\bwindows/+(?:system32|win\.ini|repair|debug|panther|system\.ini)",
        r"^[a-z]:/+(?:windows|winnt|program files|boot|inetpub|xampp|wamp|users|documents and settings|apache|php|mysql)",
        r"\b(?:web|meta)-inf/+(?:web|context|application|jboss-web)\.xml",
        r"(?:^|/)\.(?:htaccess|htpasswd|git/config|aws/credentials|bash_history|ssh/(?:id_|authorized))",
    ])
});

/// Stream wrappers and remote URLs used to include code.
static RFI: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"^\s*(?:php|expect|phar|zip|data|glob|gopher|dict|jar|file|ogg|rar|ssh2|zlib|compress\.zlib)://",
        r"^\s*(?:https?|ftps?)://\d{1,3}(?:\.\d{1,3}){3}",
        r"^\s*(?:https?|ftps?)://[^\s]*\?+\s*$",
        r"\bphp://(?:filter|input|stdin|memory|temp|fd)",
        r"^\s*\\\\[^\\]+\\",
    ])
});

/// Shell commands after a command separator or inside a substitution (shell folded: quotes,
/// backslashes and carets gone, lower case).
static COMMAND: LazyLock<RegexSet> = LazyLock::new(|| {
    let commands = r"(?:/(?:usr/)?(?:local/)?s?bin/)?(?:cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|csh|dash|python[23]?|perl|ruby|php|ping|nslookup|dig|rm|chmod|chown|ifconfig|ipconfig|netstat|systeminfo|getent|telnet|tftp|sleep|echo|printf|passwd|xterm|nohup|powershell|cmd|certutil|bitsadmin|base64|sudo|awk|sed|mkfifo|socat|tasklist|ps|uname|hostname|pwd|which|wmic|netsh|reg|net|dir|type|sysinfo)";
    let after_separator =
        format!(r"(?:[;|&\n\r`]|\$\(|\$\{{|\bthen\b|\bdo\b|\x00)\s*{commands}(?:$|[\s<>|&;`$]|\.exe\b)");
    let substitution = format!(r"`\s*{commands}(?:[\s<>|&;$][^`]*)?`");
    set_ci(&[
        &after_separator,
        &substitution,
        r"\$\{?ifs\}?",
        r"\$\((?:[a-z]|\()",
        r"/bin/(?:ba|z|k|c|da)?sh\b",
        r"\bcmd(?:\.exe)?\s*/[ck]\b",
        r"\bpowershell(?:\.exe)?\b.{0,64}-(?:e|en|enc|encodedcommand|c|command|nop|w|windowstyle|exec|executionpolicy)\b",
        r"\bset\s*/[ap]\b",
        r"(?:^|\s)(?:nc|ncat|netcat)\s+-[a-z]*[el]",
        r"\b(?:wget|curl)\s+(?:-[a-z]+\s+)*(?:https?|ftp)://",
        r"\b(?:perl|python[23]?|ruby|php)\s+-[erc]\b",
        r"\|\s*(?:ba|z|k)?sh\b",
        r">\s*/(?:tmp|dev|var|etc)/",
        r"\b(?:system|exec|passthru|shell_exec|popen|proc_open|pcntl_exec|phpinfo|assert|eval)\s*\(\s*['\x22$)]",
    ])
});

/// Commands at high sensitivity: a whole value that is a command line (`ls -la`, `sleep 5`),
/// and code-execution functions.
static COMMAND_BROAD: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"^\s*(?:cat|ls|id|whoami|uname|wget|curl|nc|bash|sh|ping|nslookup|dig|echo|sleep|rm|type|dir|net|ver|ipconfig|ifconfig|systeminfo|netstat|which|pwd)\s+[-/$~.\d]",
        r"\b(?:system|exec|passthru|shell_exec|popen|proc_open|pcntl_exec|eval|assert)\s*\(",
    ])
});

/// Cloud instance metadata and link-local addresses, in the spellings resolvers accept.
static SSRF: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\b169\.254\.169\.254\b",
        r"\b(?:0x)?a9\.?(?:0x)?fe\.?(?:0x)?a9\.?(?:0x)?fe\b",
        r"\b2852039166\b",
        r"\b0251\.0376\.0251\.0376\b",
        r"\bmetadata\.google\.internal\b",
        r"\bmetadata\.azure\.com\b",
        r"\b100\.100\.100\.200\b",
        r"\[?fd00:ec2::254\]?",
        r"\b169\.254\.170\.2\b",
        r"(?:^|//)(?:\[::ffff:a9fe:a9fe\]|\[::ffff:169\.254\.169\.254\])",
    ])
});

/// Server-side template expressions and the object walks they use to reach the runtime.
static TEMPLATE: LazyLock<RegexSet> = LazyLock::new(|| {
    // An expression, not a placeholder: a call, arithmetic, an attribute walk, an index or a
    // filter. `${USER_ID}` and `{{name}}` are the macros of ad tags and mail templates.
    let expr = r"(?:\(|\d\s*[-+*/%]\s*\d|[a-z_]\w*\s*\.\s*[a-z_]|\[|\|)";
    set_ci(&[
        &format!(r"\{{\{{[^}}]{{0,200}}?{expr}[^}}]{{0,200}}?\}}\}}"),
        &format!(r"[$#*@]\{{[^}}]{{0,200}}?{expr}[^}}]{{0,200}}?\}}"),
        &format!(r"<%=?[^%]{{0,200}}?{expr}[^%]{{0,200}}?%>"),
        r"\{%-?\s*(?:import|include|set|for|macro|call|load|debug|extends|from|exec)\b",
        r"\b__(?:class|mro|subclasses|globals|builtins|init|import|base|bases|getattribute|dict)__\b",
        r"\.getclass\s*\(\s*\)\.(?:forname|getclassloader|getmethod)",
        r"\b(?:freemarker\.template\.utility\.execute|java\.lang\.runtime|t\(java\.lang)",
        r"\{\{\s*(?:self|config|request|cycler|joiner|namespace|lipsum|url_for|get_flashed_messages|settings)\b",
    ])
});

/// XML external entities and XInclude.
static XXE: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"<!entity\b",
        r"<!doctype\s[^>]*\[",
        r"<!doctype\s[^>]*\b(?:system|public)\b",
        r"\bxmlns(?::\w+)?\s*=\s*.{0,8}http://www\.w3\.org/2001/xinclude",
        r"<xi:include\b",
        r"<xsl:(?:stylesheet|transform|value-of|template)\b",
    ])
});

/// LDAP filter injection.
static LDAP: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\*\s*\)\s*\(",
        r"\)\s*\(\s*[|&!]",
        r"\(\s*[|&!]\s*\(",
        r"^\s*\*\s*[()|&]",
        r"\)\s*\(\s*[a-z]+\s*[<>~]?=",
        r":\d+(?:\.\d+){2,}:=",
        r"\(\s*(?:objectclass|cn|uid|userpassword|mail|samaccountname)\s*=\s*\*",
    ])
});

/// MongoDB operators and server-side JavaScript.
static NOSQL: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\[\s*\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|not|nor|or|and|expr|elemmatch)\s*\]",
        r"^\s*\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|not|nor|or|and|expr|elemmatch|function|accumulator)\s*$",
        r"[{,]\s*['\x22]?\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|not|nor|or|and|expr|comment|elemmatch)['\x22]?\s*:",
        r"\$where\b",
        r"['\x22]\s*;\s*(?:return|sleep|while|do)\b",
        r"\bdb\.(?:getcollection|[a-z_]+\.(?:find|drop|insert|remove|update))\s*\(",
    ])
});

/// SMTP and IMAP commands, and mail headers, after a line break.
static MAIL: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"[\r\n]\s*(?:rcpt\s+to|mail\s+from)\s*:",
        r"[\r\n]\s*(?:quit|data|rset|vrfy|expn|helo|ehlo)\s*(?:[\r\n]|$)",
        r"[\r\n]\s*[a-z]{0,4}\d{1,5}\s+(?:capability|fetch|login|select|examine|append|store|logout|list|lsub|status|uid|search|copy|create|delete|rename)\b",
        r"[\r\n]\s*(?:bcc|cc|to|from|reply-to|sender)\s*:\s*[^\s@]+@",
    ])
});

/// Server-side includes.
static SSI: LazyLock<RegexSet> =
    LazyLock::new(|| set_ci(&[r"<!--\s*#\s*(?:exec|include|echo|config|fsize|flastmod|printenv|set|if|elif)\b"]));

/// A line break followed by a response header, to split a response or set a cookie.
static CRLF: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"(?:[\r\n]|\xe5\x98[\x8a\x8d])\s*(?:set-cookie|location|content-type|content-length|content-disposition|refresh|x-xss-protection|access-control-allow-[a-z]+|link|http/\d)\s*:",
        r"(?:[\r\n]|\xe5\x98[\x8a\x8d])\s*http/\d(?:\.\d)?\s+\d{3}",
    ])
});

/// A NUL byte where no client puts one.
static NUL: LazyLock<RegexSet> = LazyLock::new(|| set(&[r"\x00"]));

//! The `known_bad_inputs` group: exploits of named vulnerabilities (Log4Shell, Spring4Shell,
//! Java deserialisation, Shellshock) and probes for files that must never be served.

use std::sync::LazyLock;

use regex::bytes::RegexSet;

use super::{set, set_ci, Detector, Fold, Group, ManagedRule, Sensitivity, ALL};
use crate::inputs::Part;

pub(super) static GROUP: Group = Group { name: "known_bad_inputs", versions: &["1"], rules: RULES };

static RULES: &[ManagedRule] = &[
    ManagedRule {
        name: "Log4JRCE",
        parts: ALL,
        detector: Detector::Patterns(&LOG4J, Fold::Caseless),
        from: Sensitivity::Low,
        counts: false,
    },
    ManagedRule {
        name: "JavaDeserializationRCE",
        parts: ALL,
        detector: Detector::Patterns(&JAVA, Fold::Exact),
        from: Sensitivity::Low,
        counts: false,
    },
    ManagedRule {
        name: "Spring4ShellRCE",
        parts: ALL,
        detector: Detector::Patterns(&SPRING, Fold::Caseless),
        from: Sensitivity::Low,
        counts: false,
    },
    ManagedRule {
        name: "Shellshock",
        parts: ALL,
        detector: Detector::Patterns(&SHELLSHOCK, Fold::Exact),
        from: Sensitivity::Low,
        counts: false,
    },
    ManagedRule {
        name: "ExploitablePaths",
        parts: &[Part::Path],
        detector: Detector::Patterns(&PATHS, Fold::Caseless),
        from: Sensitivity::Low,
        counts: false,
    },
];

/// JNDI lookups, including the nested-lookup spellings (`${${lower:j}ndi:`).
static LOG4J: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\$\{[^\n]{0,64}?j[^\n]{0,32}?n[^\n]{0,32}?d[^\n]{0,32}?i[^\n]{0,32}?:",
        r"\$\{\s*(?:jndi|ctx|sys|env|java|lower|upper|base64|date|main|bundle|docker|k8s|log4j|spring|web|marker|sd|map|event)\s*:",
        r"\$\{::-[a-z$]",
    ])
});

/// Serialised Java objects (raw, hex, Base64) and the gadget classes they carry.
static JAVA: LazyLock<RegexSet> = LazyLock::new(|| {
    set(&[
        r"\xac\xed\x00\x05",
        r"(?i)\baced0005",
        r"\brO0AB",
        r"(?i)\bH4sIAAAAAAAA",
        r"(?i)\bjava\.lang\.(?:Runtime|ProcessBuilder|reflect\.)",
        r"(?i)\b(?:javax\.naming\.InitialContext|org\.apache\.commons\.collections\d?\.functors|ysoserial|com\.sun\.rowset\.JdbcRowSetImpl|org\.springframework\.beans\.factory\.config)",
    ])
});

/// Class loader access through data binding (CVE-2022-22965).
static SPRING: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\bclass\.(?:module\.)?classloader\b",
        r"\bclass\[['\x22]?(?:module|classloader)",
        r"\.getclass\s*\(\s*\)\s*\.\s*(?:getclassloader|forname|getmodule)",
    ])
});

/// A function definition in a value, which Bash before 4.3 executed (CVE-2014-6271).
static SHELLSHOCK: LazyLock<RegexSet> = LazyLock::new(|| set(&[r"\(\s*\)\s*\{[^}]{0,64};\s*\}\s*;"]));

/// Files that hold secrets or source and that no public route should serve.
static PATHS: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"(?:^|/)(?:\.git|\.svn|\.hg|\.aws|\.ssh|\.docker)(?:/|$)",
        r"(?:^|/)\.env(?:\.[a-z]+)?$",
        r"(?:^|/)(?:web-inf|meta-inf)(?:/|$)",
        r"(?:^|/)(?:wp-config\.php|\.htpasswd|\.htaccess|id_rsa|id_ed25519)$",
    ])
});

//! The `bot_control` group: what a client is, by its `User-Agent` and the headers it sends,
//! and whether a search engine's crawler is the real one (its address resolves back and forth
//! to the engine's domain; the gateway looks that up). Category rules only count and label, so
//! that later rules decide (`label_match` on `portcullis:managed:bot_control:`); a crawler that
//! claims a search engine's name but fails verification is blocked.

use std::sync::LazyLock;

use regex::bytes::RegexSet;

use super::{set_ci, Bot, Detector, Group, ManagedRule, Sensitivity};
use crate::inputs::Part;

pub(super) static GROUP: Group = Group { name: "bot_control", versions: &["1"], rules: RULES };

static RULES: &[ManagedRule] = &[
    bot("CategorySearchEngine", Bot::Category(&SEARCH_ENGINE), true),
    bot("CategoryAI", Bot::Category(&AI), true),
    bot("CategorySeo", Bot::Category(&SEO), true),
    bot("CategoryMonitoring", Bot::Category(&MONITORING), true),
    bot("CategoryHttpLibrary", Bot::Category(&HTTP_LIBRARY), true),
    bot("CategoryScanner", Bot::Category(&SCANNER), true),
    bot("CategoryHeadlessBrowser", Bot::Category(&HEADLESS), true),
    bot("CategoryCrawler", Bot::Category(&CRAWLER), true),
    bot("SignalNoUserAgent", Bot::NoUserAgent, true),
    bot("SignalNonBrowserHeaders", Bot::NonBrowserHeaders, true),
    bot("VerifiedBot", Bot::Verified, true),
    bot("SignalSpoofedBot", Bot::Spoofed, false),
];

const fn bot(name: &'static str, check: Bot, counts: bool) -> ManagedRule {
    ManagedRule { name, parts: &[Part::Header], detector: Detector::Bot(check), from: Sensitivity::Low, counts }
}

/// Search engines whose crawlers can be verified by DNS: the `User-Agent` word and the domains
/// their addresses resolve to (Google, Bing, Yandex, Baidu, Apple, DuckDuckGo publish these).
pub(crate) static VERIFIABLE: &[(&str, &[&str])] = &[
    ("googlebot", &["googlebot.com", "google.com", "googleusercontent.com"]),
    ("google-inspectiontool", &["googlebot.com", "google.com"]),
    ("adsbot-google", &["googlebot.com", "google.com"]),
    ("bingbot", &["search.msn.com"]),
    ("msnbot", &["search.msn.com"]),
    ("yandexbot", &["yandex.ru", "yandex.net", "yandex.com"]),
    ("baiduspider", &["baidu.com", "baidu.jp"]),
    ("applebot", &["applebot.apple.com"]),
];

static SEARCH_ENGINE: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"googlebot|google-inspectiontool|adsbot-google|mediapartners-google|bingbot|msnbot|bingpreview|yandex(?:bot|images|mobilebot)|baiduspider|duckduckbot|applebot|slurp|sogou|exabot|seznambot|naver|yeti/|qwantify|petalbot|coccocbot|mojeekbot",
    ])
});

static AI: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"gptbot|chatgpt-user|oai-searchbot|claudebot|claude-web|anthropic-ai|ccbot|bytespider|perplexitybot|google-extended|amazonbot|cohere-ai|diffbot|youbot|meta-externalagent|facebookbot|imagesiftbot|omgili",
    ])
});

static SEO: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"ahrefsbot|semrushbot|mj12bot|dotbot|rogerbot|screaming frog|serpstatbot|blexbot|dataforseobot|seokicks|linkdexbot|sistrix|majestic|barkrowler|megaindex|spbot|seznam",
    ])
});

static MONITORING: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"uptimerobot|pingdom|statuscake|site24x7|newrelicpinger|datadog(?:hq)?|better ?uptime|freshping|hetrixtools|nodeping|uptime-kuma|checkly|monitis|updown\.io|gtmetrix|pagespeed|lighthouse",
    ])
});

static HTTP_LIBRARY: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"^(?:curl|wget|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|java/|okhttp|apache-httpclient|axios|node-fetch|undici|got |libwww-perl|lwp::|php/|guzzlehttp|ruby|faraday|httpie|postmanruntime|insomnia|reqwest|hyper/|dart:io|restsharp|powershell|winhttp)|\b(?:python-requests|go-http-client|okhttp|apache-httpclient)\b",
    ])
});

static SCANNER: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"sqlmap|nikto|nmap|masscan|nessus|openvas|acunetix|nuclei|wpscan|dirbuster|gobuster|ffuf|fuzz faster u fool|zgrab|w3af|havij|netsparker|appscan|arachni|skipfish|commix|burp|wfuzz|jaeles|xsstrike|whatweb|zmeu|\.nasl\b",
    ])
});

static HEADLESS: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[r"headlesschrome|phantomjs|slimerjs|selenium|webdriver|puppeteer|playwright|htmlunit|splash|electron/"])
});

/// Any other automated client that says so: the words crawlers put in their names, a contact
/// URL in a `compatible;` token, or a feed reader or link previewer.
static CRAWLER: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"bot\b|bot[/_-]|crawl|spider|scrap|fetch|archiv|index(?:er|ing)|harvest|slurp|scan|preview|feed|reader|validator|checker|monitor|sitemap|extractor|download|collector|agent\b",
        r"\(compatible;[^)]*\+?https?://",
        r"^[\w.-]+/[\d.]+ \(\+?https?://",
    ])
});

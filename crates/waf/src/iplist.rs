//! IP lists for the `ip_reputation` managed group: addresses and networks read from a file or
//! fetched from a URL, replaced whole when the gateway refreshes them, and looked up by binary
//! search over merged ranges.
//!
//! A list is found by its source (the file path or URL), process-wide, so that a reload, or two
//! ACLs naming the same source, share one copy and its last good contents.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex, RwLock, Weak};
use std::time::Duration;

use ipnet::IpNet;

/// Where a list comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListSource {
    /// A local file, read again at every refresh.
    File(String),
    /// An `https://` URL (or `http://` on a loopback address), fetched at every refresh.
    Url(String),
}

/// One IP list.
#[derive(Debug)]
pub struct IpList {
    source: ListSource,
    refresh: Mutex<Duration>,
    ranges: RwLock<Arc<Ranges>>,
}

/// Sorted, merged ranges of addresses.
#[derive(Debug, Default)]
struct Ranges {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    entries: usize,
}

/// The outcome of reading a list's text.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Valid entries.
    pub nets: Vec<IpNet>,
    /// Lines that are neither an address, a network, a comment nor blank: (line number, text).
    pub bad: Vec<(usize, String)>,
}

static REGISTRY: LazyLock<Mutex<HashMap<ListSource, Weak<IpList>>>> = LazyLock::new(Mutex::default);

/// Reads a list: one address or CIDR per line; `#` starts a comment; blank lines are skipped;
/// anything after the first space or tab on a line is ignored (lists often add a note).
pub fn parse_list(text: &str) -> Parsed {
    let mut out = Parsed { nets: Vec::new(), bad: Vec::new() };
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").split([' ', '\t', ';', ',']).next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        match entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)) {
            Ok(net) => out.nets.push(net.trunc()),
            Err(_) => out.bad.push((i + 1, entry.chars().take(64).collect())),
        }
    }
    out
}

// === impl IpList ===

impl IpList {
    /// The live list of this source, or a new empty one; `refresh` becomes its interval.
    pub(crate) fn shared(source: ListSource, refresh: Duration) -> Arc<Self> {
        let mut registry = REGISTRY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        registry.retain(|_, w| w.strong_count() > 0);
        if let Some(live) = registry.get(&source).and_then(Weak::upgrade) {
            *live.refresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = refresh;
            return live;
        }
        let list = Arc::new(Self { source: source.clone(), refresh: Mutex::new(refresh), ranges: RwLock::default() });
        registry.insert(source, Arc::downgrade(&list));
        list
    }

    /// Where the list comes from.
    pub fn source(&self) -> &ListSource {
        &self.source
    }

    /// How often the gateway refreshes it.
    pub fn refresh(&self) -> Duration {
        *self.refresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the contents with these networks.
    pub fn replace(&self, nets: &[IpNet]) {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        let ranges = Ranges { v4: merge(v4), v6: merge(v6), entries: nets.len() };
        *self.ranges.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ranges);
    }

    /// Whether `ip` is in the list (an IPv4-mapped IPv6 address as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ranges = self.ranges.read().map(|r| r.clone()).unwrap_or_default();
        match ip {
            IpAddr::V4(v4) => within(&ranges.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => within(&ranges.v4, u32::from(v4)),
                None => within(&ranges.v6, u128::from(v6)),
            },
        }
    }

    /// How many entries the last contents had.
    pub fn len(&self) -> usize {
        self.ranges.read().map(|r| r.entries).unwrap_or(0)
    }

    /// Whether the list is empty (as it is until first loaded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ranges sorted by start, overlapping and adjacent ones merged.
fn merge<T: Copy + Ord + num::One>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 || last.1.checked_next() == Some(start) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// Whether `x` falls in one of the sorted, disjoint `ranges`.
fn within<T: Copy + Ord>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|(start, _)| *start <= x);
    i > 0 && ranges.get(i - 1).is_some_and(|(_, end)| x <= *end)
}

/// The successor of an address, for merging adjacent ranges.
mod num {
    pub(super) trait One: Sized {
        fn checked_next(self) -> Option<Self>;
    }
    impl One for u32 {
        fn checked_next(self) -> Option<Self> {
            self.checked_add(1)
        }
    }
    impl One for u128 {
        fn checked_next(self) -> Option<Self> {
            self.checked_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn lists_parse_addresses_networks_and_notes() {
        let text = "# a list\n203.0.113.7\n198.51.100.0/24 # a note\n2001:db8::/32\tnote\n\nnot-an-ip\n10.0.0.1/33\n";
        let parsed = parse_list(text);
        assert_eq!(parsed.nets.len(), 3);
        assert_eq!(parsed.bad, vec![(6, "not-an-ip".to_owned()), (7, "10.0.0.1/33".to_owned())]);
    }

    #[test]
    fn lookups_find_members_only() {
        let list = IpList::shared(ListSource::File("t:lookups".into()), Duration::from_secs(60));
        assert!(!list.contains(ip("203.0.113.7")), "empty until loaded");
        let parsed = parse_list("203.0.113.7\n198.51.100.0/24\n198.51.101.0/24\n198.51.100.128/25\n2001:db8::/32\n");
        list.replace(&parsed.nets);
        assert_eq!(list.len(), 5);
        for yes in ["203.0.113.7", "198.51.100.0", "198.51.101.255", "2001:db8::1", "::ffff:203.0.113.7"] {
            assert!(list.contains(ip(yes)), "{yes}");
        }
        for no in ["203.0.113.8", "198.51.99.255", "198.51.102.0", "2001:db9::1", "0.0.0.0"] {
            assert!(!list.contains(ip(no)), "{no}");
        }
        let ranges = list.ranges.read().map(|r| r.v4.len()).unwrap_or(0);
        assert_eq!(ranges, 2, "adjacent and nested networks merge");
    }

    #[test]
    fn a_source_is_one_list_across_compiles() {
        let a = IpList::shared(ListSource::Url("https://t.example/list".into()), Duration::from_secs(60));
        let b = IpList::shared(ListSource::Url("https://t.example/list".into()), Duration::from_secs(30));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.refresh(), Duration::from_secs(30));
    }
}

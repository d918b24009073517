//! Countries of addresses for `geo_match`, from a MaxMind-format database (GeoLite2 or
//! GeoIP2 Country or City, or any `.mmdb` with `country.iso_code`). A database is opened once
//! per path, process-wide, and shared by every ACL and config version that names it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use maxminddb::{PathElement, Reader};

/// An open database.
pub struct GeoDb {
    path: String,
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("path", &self.path).finish_non_exhaustive()
    }
}

static OPEN: LazyLock<Mutex<HashMap<String, Weak<GeoDb>>>> = LazyLock::new(Mutex::default);

impl GeoDb {
    /// The database at `path`, opened now or shared with its other users.
    pub(crate) fn open(path: &str) -> Result<Arc<Self>, String> {
        let mut open = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|_, w| w.strong_count() > 0);
        if let Some(db) = open.get(path).and_then(Weak::upgrade) {
            return Ok(db);
        }
        let reader =
            Reader::open_readfile(path).map_err(|e| format!("cannot open {path} as a MaxMind database: {e}"))?;
        let db = Arc::new(Self { path: path.to_owned(), reader });
        open.insert(path.to_owned(), Arc::downgrade(&db));
        Ok(db)
    }

    /// The ISO 3166 code of the country of `ip` (where it is located, else where it is
    /// registered); `None` when the database does not know it.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.reader.lookup(ip).ok()?;
        let at = |key: &'static str| -> Option<String> {
            found.decode_path::<String>(&[PathElement::Key(key), PathElement::Key("iso_code")]).ok().flatten()
        };
        at("country").or_else(|| at("registered_country"))
    }
}

#[cfg(test)]
pub(crate) mod testdb {
    //! A MaxMind DB writer for tests: IPv4 networks to countries, in the format's own bytes
    //! (a binary search tree of 24-bit records, the data section, the metadata), read back by
    //! the real reader.

    use ipnet::Ipv4Net;

    /// The database file for these networks.
    pub(crate) fn build(entries: &[(Ipv4Net, &str)]) -> Vec<u8> {
        // Data section: one map per country, {country: {iso_code: XX}}.
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for (_, code) in entries {
            offsets.push(data.len());
            data.push(0xe1);
            string(&mut data, "country");
            data.push(0xe1);
            string(&mut data, "iso_code");
            string(&mut data, code);
        }
        // The tree: node 0 is the root; each node is [left, right].
        let mut nodes: Vec<[Option<Rec>; 2]> = vec![[None, None]];
        for ((net, _), offset) in entries.iter().zip(&offsets) {
            let bits = u32::from(net.network());
            let mut node = 0;
            for depth in 0..net.prefix_len() {
                let bit = usize::from(bits >> (31 - depth) & 1 == 1);
                if depth + 1 == net.prefix_len() {
                    nodes[node][bit] = Some(Rec::Data(*offset));
                } else {
                    node = match nodes[node][bit] {
                        Some(Rec::Node(n)) => n,
                        _ => {
                            nodes.push([None, None]);
                            let n = nodes.len() - 1;
                            nodes[node][bit] = Some(Rec::Node(n));
                            n
                        }
                    };
                }
            }
        }
        let count = nodes.len();
        let mut out = Vec::new();
        for node in &nodes {
            for rec in node {
                let value = match rec {
                    Some(Rec::Node(n)) => *n,
                    Some(Rec::Data(offset)) => count + 16 + offset,
                    None => count,
                };
                out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        out.push(0xe0 | 9);
        string(&mut out, "node_count");
        uint(&mut out, 6, count as u64);
        string(&mut out, "record_size");
        uint(&mut out, 5, 24);
        string(&mut out, "ip_version");
        uint(&mut out, 5, 4);
        string(&mut out, "database_type");
        string(&mut out, "Portcullis-Test-Country");
        string(&mut out, "languages");
        out.extend_from_slice(&[0x00, 0x04]); // an empty array
        string(&mut out, "binary_format_major_version");
        uint(&mut out, 5, 2);
        string(&mut out, "binary_format_minor_version");
        uint(&mut out, 5, 0);
        string(&mut out, "build_epoch");
        let epoch = 1_700_000_000u64.to_be_bytes();
        out.extend_from_slice(&[0x04, 0x02]); // uint64, 4 bytes
        out.extend_from_slice(&epoch[4..]);
        string(&mut out, "description");
        out.push(0xe0); // an empty map
        out
    }

    #[derive(Clone, Copy)]
    enum Rec {
        Node(usize),
        Data(usize),
    }

    fn string(out: &mut Vec<u8>, s: &str) {
        out.push(0x40 | s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }

    /// An unsigned integer of type 5 (uint16) or 6 (uint32), in its shortest form.
    fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
        let bytes: Vec<u8> = v.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(kind << 5 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    // Tests may unwrap: a panic is the failure report.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn countries_come_from_the_database() {
        let path = std::env::temp_dir().join(format!("portcullis-geo-{}.mmdb", std::process::id()));
        let nets = [("203.0.113.0/24".parse().unwrap(), "FR"), ("198.51.100.0/25".parse().unwrap(), "DE")];
        std::fs::write(&path, testdb::build(&nets)).unwrap();
        let db = GeoDb::open(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(&path);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(db.country(ip("203.0.113.77")).as_deref(), Some("FR"));
        assert_eq!(db.country(ip("198.51.100.1")).as_deref(), Some("DE"));
        assert_eq!(db.country(ip("198.51.100.200")), None);
        assert_eq!(db.country(ip("192.0.2.1")), None);
        assert!(GeoDb::open("/nonexistent/x.mmdb").is_err());
    }
}

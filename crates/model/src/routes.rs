//! Route keys (`GET /pets/{id}`, `ANY /{proxy+}`) and the table that matches a canonical path
//! to one route, built once per config.

use std::collections::HashMap;

use http::Method;

/// A parsed route key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteKey {
    /// `None` for `ANY`.
    pub method: Option<Method>,
    /// The path template as written, e.g. `/pets/{id}`.
    pub path: String,
    /// Parameter names in order; a greedy parameter is last.
    pub params: Vec<String>,
    /// Whether the template ends in a greedy `{name+}`.
    pub greedy: bool,
    literal_segments: u32,
    segments: u32,
}

/// Where a request's path and method land.
#[derive(Debug)]
pub struct RouteMatch<'t, T> {
    /// The route's position in the table (see [`RouteTable::get`]).
    pub index: usize,
    /// The route's value.
    pub value: &'t T,
    /// The route's key.
    pub key: &'t RouteKey,
    /// Path parameters as (name, value), values still in canonical (percent-encoded) form.
    pub params: Vec<(&'t str, String)>,
}

/// Routes of one API, matched by method and path.
#[derive(Debug)]
pub struct RouteTable<T> {
    by_method: HashMap<Method, matchit::Router<usize>>,
    any: matchit::Router<usize>,
    routes: Vec<(RouteKey, T)>,
}

// === impl RouteKey ===

impl RouteKey {
    /// Parses `METHOD /path/{param}/{greedy+}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (method, path) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("route `{text}` must be `METHOD /path`, e.g. `GET /pets/{{id}}`"))?;
        let method = match method {
            "ANY" => None,
            m if METHODS.contains(&m) => Some(m.parse::<Method>().map_err(|e| e.to_string())?),
            m => return Err(format!("unknown method `{m}`: use one of {} or ANY", METHODS.join(", "))),
        };
        let path = path.trim().to_owned();
        if !path.starts_with('/') {
            return Err(format!("route path `{path}` must start with `/`"));
        }
        let mut key = Self { method, path, params: Vec::new(), greedy: false, literal_segments: 0, segments: 0 };
        if key.path == "/" {
            return Ok(key);
        }
        let segs: Vec<&str> = key.path[1..].split('/').collect();
        for (i, seg) in segs.iter().enumerate() {
            key.segments += 1;
            if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(n) => (n, true),
                    None => (inner, false),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(format!("bad parameter `{seg}` in route path `{}`", key.path));
                }
                if greedy && i + 1 != segs.len() {
                    return Err(format!("greedy parameter `{seg}` must be the last segment of `{}`", key.path));
                }
                if key.params.iter().any(|p| p == name) {
                    return Err(format!("parameter `{name}` appears twice in `{}`", key.path));
                }
                key.params.push(name.to_owned());
                key.greedy = greedy;
            } else {
                let slashed = format!("/{seg}");
                let ok = !seg.is_empty()
                    && !seg.contains(['{', '}'])
                    && crate::path::canonicalize(&slashed).ok().as_deref() == Some(slashed.as_str());
                if !ok {
                    return Err(format!(
                        "segment `{seg}` of route path `{}` is not in canonical form (no empty, `.`, `..` or braces)",
                        key.path
                    ));
                }
                key.literal_segments += 1;
            }
        }
        Ok(key)
    }

    /// The key as `METHOD /path`.
    pub fn display(&self) -> String {
        format!("{} {}", self.method.as_ref().map_or("ANY", Method::as_str), self.path)
    }

    /// The template in the router's syntax.
    fn matchit_path(&self) -> String {
        let mut out = self.path.clone();
        if self.greedy {
            if let Some(last) = self.params.last() {
                out = out.replace(&format!("{{{last}+}}"), &format!("{{*{last}}}"));
            }
        }
        out
    }

    /// Higher wins when a method route and an `ANY` route both match.
    fn specificity(&self) -> (bool, u32, u32, bool) {
        (!self.greedy, self.literal_segments, self.segments, self.method.is_some())
    }
}

// === impl RouteTable ===

impl<T> RouteTable<T> {
    /// Builds the table. Fails on a duplicate key or on templates the router cannot tell apart.
    pub fn build(routes: Vec<(RouteKey, T)>) -> Result<Self, (usize, String)> {
        let mut by_method: HashMap<Method, matchit::Router<usize>> = HashMap::new();
        let mut any = matchit::Router::new();
        for (i, (key, _)) in routes.iter().enumerate() {
            if let Some(j) = routes[..i].iter().position(|(k, _)| k.method == key.method && k.path == key.path) {
                return Err((i, format!("route `{}` is defined twice (also routes[{j}])", key.display())));
            }
            let router = match &key.method {
                Some(m) => by_method.entry(m.clone()).or_default(),
                None => &mut any,
            };
            router
                .insert(key.matchit_path(), i)
                .map_err(|e| (i, format!("route `{}` conflicts with another route: {e}", key.display())))?;
        }
        Ok(Self { by_method, any, routes })
    }

    /// Finds the route for `method` and canonical `path`. A method route and an `ANY` route
    /// may both match; the more specific template wins, then the method route.
    pub fn find(&self, method: &Method, path: &str) -> Option<RouteMatch<'_, T>> {
        let by_method = self.by_method.get(method).and_then(|r| r.at(path).ok());
        let any = self.any.at(path).ok();
        let chosen = match (by_method, any) {
            (Some(a), Some(b)) => {
                if self.routes[*a.value].0.specificity() >= self.routes[*b.value].0.specificity() {
                    a
                } else {
                    b
                }
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        let index = *chosen.value;
        let (key, value) = self.routes.get(index)?;
        let params = key
            .params
            .iter()
            .filter_map(|name| chosen.params.get(name).map(|v| (name.as_str(), v.to_owned())))
            .collect();
        Some(RouteMatch { index, value, key, params })
    }

    /// The route at `index`.
    pub fn get(&self, index: usize) -> Option<&(RouteKey, T)> {
        self.routes.get(index)
    }

    /// Every route, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &(RouteKey, T)> {
        self.routes.iter()
    }
}

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

#[cfg(test)]
mod tests {
    use http::Method;

    use super::{RouteKey, RouteTable};

    fn table(keys: &[&str]) -> RouteTable<&'static str> {
        let routes = keys.iter().map(|k| (RouteKey::parse(k).unwrap_or_else(|e| panic!("{e}")), "x")).collect();
        RouteTable::build(routes).unwrap_or_else(|(_, e)| panic!("{e}"))
    }

    fn hit(t: &RouteTable<&str>, m: &Method, p: &str) -> Option<(String, Vec<(String, String)>)> {
        t.find(m, p).map(|r| (r.key.display(), r.params.iter().map(|(a, b)| (a.to_string(), b.clone())).collect()))
    }

    #[test]
    fn most_specific_route_wins() {
        let t = table(&["GET /pets/{id}", "ANY /{proxy+}", "GET /pets", "POST /pets/{id}/toys", "ANY /pets/{id}"]);
        assert_eq!(hit(&t, &Method::GET, "/pets/7"), Some(("GET /pets/{id}".into(), vec![("id".into(), "7".into())])));
        assert_eq!(hit(&t, &Method::DELETE, "/pets/7").map(|h| h.0), Some("ANY /pets/{id}".into()));
        assert_eq!(hit(&t, &Method::GET, "/pets").map(|h| h.0), Some("GET /pets".into()));
        assert_eq!(
            hit(&t, &Method::PUT, "/a/b/c"),
            Some(("ANY /{proxy+}".into(), vec![("proxy".into(), "a/b/c".into())]))
        );
        assert_eq!(hit(&t, &Method::GET, "/pets/7/toys").map(|h| h.0), Some("ANY /{proxy+}".into()));
        assert_eq!(hit(&t, &Method::GET, "/"), None, "a greedy parameter needs at least one segment");
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in
            ["GET", "FETCH /x", "GET x", "GET /{proxy+}/more", "GET /a//b", "GET /a/../b", "GET /{a}/{a}", "GET /{}"]
        {
            assert!(RouteKey::parse(bad).is_err(), "{bad}");
        }
        let dup = vec![
            (RouteKey::parse("GET /a").unwrap_or_else(|e| panic!("{e}")), ()),
            (RouteKey::parse("GET /a").unwrap_or_else(|e| panic!("{e}")), ()),
        ];
        assert!(RouteTable::build(dup).is_err());
    }
}

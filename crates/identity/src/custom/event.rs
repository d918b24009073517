//! The event a custom authorizer receives: API Gateway's `TOKEN` and `REQUEST` events (payload
//! 1.0, reference §3.2–3.3) and the HTTP API payload 2.0 (§3.4).
//!
//! Header names are lower-case, as HTTP/2 carries them and as payload 2.0 promises; header
//! lookups in authorizer code should not depend on case.

use std::collections::BTreeMap;

use http::HeaderMap;
use model::{AuthorizerType, PayloadFormat};
use serde_json::{json, Map, Value};

/// Facts about the request that go into `requestContext`.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The account that owns the API.
    pub account_id: &'a str,
    /// The API's name (its id here).
    pub api_id: &'a str,
    /// The stage.
    pub stage: &'a str,
    /// The gateway's request id.
    pub request_id: &'a str,
    /// The client address.
    pub source_ip: &'a str,
    /// `User-Agent`, if sent.
    pub user_agent: Option<&'a str>,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'a str,
    /// `Host` / `:authority`.
    pub domain_name: Option<&'a str>,
    /// CLF time, `12/Mar/2020:19:03:58 +0000`.
    pub request_time: &'a str,
    /// Milliseconds since the epoch.
    pub request_time_epoch: u64,
    /// The client certificate of a mutual-TLS connection.
    pub client_cert: Option<ClientCertFacts<'a>>,
}

/// A verified client certificate as API Gateway passes it (reference §10.1).
#[derive(Debug, Clone, Copy)]
pub struct ClientCertFacts<'a> {
    /// PEM.
    pub pem: &'a str,
    /// `C=US,O=Example,CN=alice`.
    pub subject_dn: &'a str,
    /// The issuer's DN.
    pub issuer_dn: &'a str,
    /// `0a:1b:…`.
    pub serial: &'a str,
    /// `May 28 12:30:02 2019 GMT`.
    pub not_before: &'a str,
    /// Likewise.
    pub not_after: &'a str,
}

impl ClientCertFacts<'_> {
    fn to_json(self) -> Value {
        json!({"clientCertPem": self.pem, "subjectDN": self.subject_dn, "issuerDN": self.issuer_dn,
               "serialNumber": self.serial,
               "validity": {"notBefore": self.not_before, "notAfter": self.not_after}})
    }
}

/// Everything one event is built from.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// `TOKEN` or `REQUEST`.
    pub kind: AuthorizerType,
    /// 1.0 or 2.0.
    pub format: PayloadFormat,
    /// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`.
    pub method_arn: &'a str,
    /// The identity-source values, in config order (`TOKEN`: the token).
    pub identity: &'a [String],
    /// The request method.
    pub method: &'a str,
    /// The request path as received (canonical form).
    pub path: &'a str,
    /// The route's path template, `/pets/{id}`.
    pub resource: &'a str,
    /// The route key, `GET /pets/{id}`.
    pub route_key: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// Path parameters.
    pub path_params: &'a [(String, String)],
    /// The stage's variables.
    pub stage_variables: &'a BTreeMap<String, String>,
    /// `requestContext` facts.
    pub facts: RequestFacts<'a>,
}

// === impl Event ===

impl Event<'_> {
    /// The event as the JSON bytes the function receives.
    pub fn to_json(&self) -> Vec<u8> {
        let value = match (self.kind, self.format) {
            (AuthorizerType::Token, _) => json!({
                "type": "TOKEN",
                "authorizationToken": self.identity.first().map_or("", String::as_str),
                "methodArn": self.method_arn,
            }),
            (AuthorizerType::Request, PayloadFormat::V1) => self.request_v1(),
            (AuthorizerType::Request, PayloadFormat::V2) => self.request_v2(),
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    fn request_v1(&self) -> Value {
        let (headers, multi_headers) = single_and_multi(self.header_pairs());
        let (query, multi_query) = single_and_multi(query_pairs(self.query));
        let f = &self.facts;
        json!({
            "type": "REQUEST",
            "methodArn": self.method_arn,
            "resource": self.resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": self.params(),
            "stageVariables": self.stage_variables,
            "requestContext": {
                "path": self.path,
                "accountId": f.account_id,
                "resourceId": self.route_key,
                "stage": f.stage,
                "requestId": f.request_id,
                "resourcePath": self.resource,
                "httpMethod": self.method,
                "apiId": f.api_id,
                "protocol": f.protocol,
                "domainName": f.domain_name,
                "requestTime": f.request_time,
                "requestTimeEpoch": f.request_time_epoch,
                "identity": {
                    "sourceIp": f.source_ip,
                    "userAgent": f.user_agent,
                    "clientCert": f.client_cert.map(ClientCertFacts::to_json),
                },
            },
        })
    }

    fn request_v2(&self) -> Value {
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (name, value) in self.header_pairs() {
            if name == "cookie" {
                cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
                continue;
            }
            match headers.get_mut(&name) {
                // Repeated headers are joined with commas, as payload 2.0 does.
                Some(Value::String(s)) => {
                    s.push(',');
                    s.push_str(&value);
                }
                _ => {
                    headers.insert(name, Value::String(value));
                }
            }
        }
        let mut query = Map::new();
        for (name, value) in query_pairs(self.query) {
            match query.get_mut(&name) {
                Some(Value::String(s)) => {
                    s.push(',');
                    s.push_str(&value);
                }
                _ => {
                    query.insert(name, Value::String(value));
                }
            }
        }
        let f = &self.facts;
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": self.method_arn,
            "identitySource": self.identity,
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": self.query.unwrap_or(""),
            "cookies": cookies,
            "headers": headers,
            "queryStringParameters": query,
            "requestContext": {
                "accountId": f.account_id,
                "apiId": f.api_id,
                "domainName": f.domain_name,
                "domainPrefix": f.domain_name.and_then(|d| d.split(['.', ':']).next()),
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": f.protocol,
                    "sourceIp": f.source_ip,
                    "userAgent": f.user_agent,
                },
                "authentication": f.client_cert.map(|c| json!({ "clientCert": c.to_json() })),
                "requestId": f.request_id,
                "routeKey": self.route_key,
                "stage": f.stage,
                "time": f.request_time,
                "timeEpoch": f.request_time_epoch,
            },
            "pathParameters": self.params(),
            "stageVariables": self.stage_variables,
        })
    }

    fn header_pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.headers.iter().map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
    }

    fn params(&self) -> Map<String, Value> {
        self.path_params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
    }
}

/// The last value of each name, and all of them in order (REST's `headers` and
/// `multiValueHeaders`).
fn single_and_multi(pairs: impl Iterator<Item = (String, String)>) -> (Map<String, Value>, Map<String, Value>) {
    let (mut single, mut multi) = (Map::new(), Map::new());
    for (name, value) in pairs {
        if let Value::Array(list) = multi.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new())) {
            list.push(Value::String(value.clone()));
        }
        single.insert(name, Value::String(value));
    }
    (single, multi)
}

/// The decoded `name=value` pairs of a query string, in order.
pub fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts<'static> {
        RequestFacts {
            account_id: "123456789012",
            api_id: "pets",
            stage: "prod",
            request_id: "r-1",
            source_ip: "192.0.2.7",
            user_agent: Some("curl/8"),
            protocol: "HTTP/1.1",
            domain_name: Some("api.example.com"),
            request_time: "12/Mar/2020:19:03:58 +0000",
            request_time_epoch: 1_583_348_638_390,
            client_cert: None,
        }
    }

    fn event<'a>(
        kind: AuthorizerType,
        format: PayloadFormat,
        headers: &'a HeaderMap,
        identity: &'a [String],
    ) -> Event<'a> {
        static EMPTY: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
        Event {
            kind,
            format,
            method_arn: "arn:aws:execute-api:us-east-1:123456789012:pets/prod/GET/pets/7",
            identity,
            method: "GET",
            path: "/pets/7",
            resource: "/pets/{id}",
            route_key: "GET /pets/{id}",
            headers,
            query: Some("a=1&a=2&b=x%20y"),
            path_params: &[],
            stage_variables: EMPTY.get_or_init(BTreeMap::new),
            facts: facts(),
        }
    }

    fn parse(e: &Event<'_>) -> Value {
        serde_json::from_slice(&e.to_json()).unwrap_or(Value::Null)
    }

    #[test]
    fn token_event_has_exactly_the_three_fields() {
        let h = HeaderMap::new();
        let id = ["Bearer abc".to_owned()];
        let v = parse(&event(AuthorizerType::Token, PayloadFormat::V1, &h, &id));
        assert_eq!(
            v,
            json!({"type":"TOKEN","authorizationToken":"Bearer abc",
                   "methodArn":"arn:aws:execute-api:us-east-1:123456789012:pets/prod/GET/pets/7"})
        );
    }

    #[test]
    fn request_v1_keeps_the_last_value_and_all_values() {
        let mut h = HeaderMap::new();
        h.append("x-tenant", "a".parse().unwrap_or_else(|_| unreachable!()));
        h.append("x-tenant", "b".parse().unwrap_or_else(|_| unreachable!()));
        let v = parse(&event(AuthorizerType::Request, PayloadFormat::V1, &h, &[]));
        assert_eq!(v["headers"]["x-tenant"], "b");
        assert_eq!(v["multiValueHeaders"]["x-tenant"], json!(["a", "b"]));
        assert_eq!(v["queryStringParameters"], json!({"a":"2","b":"x y"}));
        assert_eq!(v["multiValueQueryStringParameters"]["a"], json!(["1", "2"]));
        assert_eq!(v["requestContext"]["identity"]["sourceIp"], "192.0.2.7");
        assert_eq!(v["requestContext"]["resourcePath"], "/pets/{id}");
        assert_eq!(v["methodArn"], "arn:aws:execute-api:us-east-1:123456789012:pets/prod/GET/pets/7");
    }

    #[test]
    fn request_v2_joins_repeats_and_splits_cookies() {
        let mut h = HeaderMap::new();
        h.append("x-tenant", "a".parse().unwrap_or_else(|_| unreachable!()));
        h.append("x-tenant", "b".parse().unwrap_or_else(|_| unreachable!()));
        h.append("cookie", "s=1; t=2".parse().unwrap_or_else(|_| unreachable!()));
        let id = ["a,b".to_owned()];
        let v = parse(&event(AuthorizerType::Request, PayloadFormat::V2, &h, &id));
        assert_eq!(v["version"], "2.0");
        assert_eq!(v["headers"], json!({"x-tenant":"a,b"}));
        assert_eq!(v["cookies"], json!(["s=1", "t=2"]));
        assert_eq!(v["queryStringParameters"], json!({"a":"1,2","b":"x y"}));
        assert_eq!(v["rawQueryString"], "a=1&a=2&b=x%20y");
        assert_eq!(v["identitySource"], json!(["a,b"]));
        assert_eq!(v["requestContext"]["http"]["method"], "GET");
        assert_eq!(v["routeArn"], "arn:aws:execute-api:us-east-1:123456789012:pets/prod/GET/pets/7");
    }
}

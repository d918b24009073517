use super::load_str;

fn errors(text: &str) -> Vec<String> {
    match load_str("x.yaml", text, |k| (k == "UP").then(|| "http://127.0.0.1:9".to_owned())) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

const GOOD: &str = "\
apis:
  - name: pets
    routes:
      - route: GET /pets
        integration:
          type: mock
          body: '[]'
      - route: ANY /{proxy+}
        integration:
          type: http
          url: ${UP}/{proxy}
";

#[test]
fn a_good_file_compiles() {
    assert_eq!(errors(GOOD), Vec::<String>::new());
}

#[test]
fn a_bad_url_names_file_line_column_and_path() {
    let text = GOOD.replace("${UP}/{proxy}", "ftp://nope");
    assert_eq!(
        errors(&text),
        vec!["x.yaml:11:11: apis[0].routes[1].integration.url: invalid URL `ftp://nope`: it must start with http:// or https://"]
    );
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let text = GOOD.replace("    routes:", "    rotues:");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("x.yaml:3:5: apis[0].rotues: unknown field `rotues`"), "{}", errs[0]);
    assert!(errs[0].ends_with("(did you mean `routes`?)"), "{}", errs[0]);
}

#[test]
fn unknown_response_types_get_a_suggestion() {
    let text = format!("{GOOD}    gateway_responses:\n      THROTLED:\n        status: 503\n");
    let errs = errors(&text);
    assert!(errs[0].contains("did you mean `THROTTLED`"), "{errs:?}");
}

#[test]
fn compile_errors_are_all_reported_with_places() {
    let text = "\
apis:
  - name: a
    cors:
      allow_origins: ['*']
      allow_credentials: true
    routes:
      - route: GET /x/{id}
        integration:
          type: http
          url: http://h/{nope}
";
    let errs = errors(text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs.iter().any(|e| e.starts_with("x.yaml:5:7: apis[0].cors.allow_credentials:")), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.starts_with("x.yaml:10:11: apis[0].routes[0].integration.url: `{nope}`")),
        "{errs:?}"
    );
}

#[test]
fn missing_environment_variable_is_named() {
    let errs = errors("listen: ${NOT_SET_ANYWHERE}\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("x.yaml:1:9: environment variable NOT_SET_ANYWHERE is not set"), "{errs:?}");
}

#[test]
fn type_errors_and_syntax_errors_have_places() {
    let errs = errors("limits:\n  max_headers: lots\n");
    assert!(errs[0].starts_with("x.yaml:2:3: limits.max_headers: invalid type"), "{errs:?}");
    let errs = errors("apis: [\n");
    assert!(errs[0].contains("YAML syntax error"), "{errs:?}");
}

#[test]
fn duplicate_routes_and_api_names_are_refused() {
    let text = format!("{GOOD}      - route: GET /pets\n        integration: {{type: mock}}\n  - name: pets\n    base_path: /v2\n    routes: []\n");
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.contains("apis[0].routes[2]: route `GET /pets` is defined twice")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("apis[1].name: API name `pets` is already used")), "{errs:?}");
}

#[test]
fn selection_by_host_base_path_and_stage() {
    let text = "\
apis:
  - name: root
    routes: [{route: 'ANY /{proxy+}', integration: {type: mock}}]
  - name: v2
    base_path: /v2
    stages: [{name: prod}, {name: $default}]
    routes: [{route: GET /a, integration: {type: mock}}]
  - name: hosted
    hosts: ['*.example.com']
    routes: [{route: GET /a, integration: {type: mock}}]
  - name: exact
    hosts: ['exact.example.com']
    routes: [{route: GET /a, integration: {type: mock}}]
";
    let c = load_str("x.yaml", text, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let pick = |host: Option<&str>, p: &str| {
        c.select(host, p).map(|s| (s.api.name.clone(), s.stage.name.clone(), s.rest.to_owned()))
    };
    assert_eq!(pick(None, "/v2/prod/a"), Some(("v2".into(), "prod".into(), "/a".into())));
    assert_eq!(pick(None, "/v2/a"), Some(("v2".into(), "$default".into(), "/a".into())));
    assert_eq!(pick(None, "/v2x/a"), Some(("root".into(), "$default".into(), "/v2x/a".into())));
    assert_eq!(pick(Some("api.example.com:8443"), "/a").map(|s| s.0), Some("hosted".into()));
    assert_eq!(pick(Some("a.b.example.com"), "/a").map(|s| s.0), Some("root".into()));
    assert_eq!(pick(Some("API.Example.COM"), "/a").map(|s| s.0), Some("hosted".into()));
    assert_eq!(pick(Some(".example.com"), "/a").map(|s| s.0), Some("root".into()));
    assert_eq!(pick(Some("EXACT.example.com"), "/a").map(|s| s.0), Some("exact".into()), "exact beats wildcard");
}

#[test]
fn stage_variables_in_urls_must_be_path_safe() {
    let text = "\
apis:
  - name: a
    stages:
      - {name: ok, variables: {v: live/v2}}
      - {name: bad, variables: {v: ../admin}}
    routes:
      - route: GET /x
        integration: {type: http, url: 'http://h/${stageVariables.v}/x'}
";
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("stage variable `v` of stage `bad` cannot go in a URL path"), "{errs:?}");
}

const IAM: &str = "\
iam:
  region: eu-west-1
  account_id: \"123456789012\"
apis:
  - name: pets
    resource_policy:
      Version: \"2012-10-17\"
      Statement:
        - Effect: Allow
          Principal: \"*\"
          Action: execute-api:Invoke
          Resource: [execute-api:/*/GET/*, \"arn:aws:execute-api:*:*:other/*\"]
    routes:
      - route: GET /pets
        auth: iam
        integration: {type: mock}
      - route: GET /open
        integration: {type: mock}
";

#[test]
fn iam_routes_and_resource_policies_compile_with_short_forms_expanded() {
    let c = load_str("x.yaml", IAM, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let api = &c.apis[0];
    assert_eq!(api.route_auth, vec![crate::CompiledAuth::Iam, crate::CompiledAuth::None]);
    let doc = api.resource_policy.as_ref().map(|p| p.document().to_string()).unwrap_or_default();
    assert!(doc.contains("arn:aws:execute-api:eu-west-1:123456789012:pets/*/GET/*"), "{doc}");
    assert!(doc.contains("arn:aws:execute-api:*:*:other/*"), "{doc}");
    assert_eq!(c.principal_header.as_ref().map(http::HeaderName::as_str), Some("x-portcullis-principal"));
}

#[test]
fn bad_iam_settings_and_policies_name_their_place() {
    let bad = IAM.replace("Effect: Allow", "Effect: Alow").replace("\"123456789012\"", "\"12345\"");
    let errs = errors(&bad);
    assert!(
        errs.iter().any(|e| e.starts_with("x.yaml:3:") && e.contains("iam.account_id") && e.contains("12 digits")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with("x.yaml:9:") && e.contains("apis[0].resource_policy.Statement[0].Effect")),
        "{errs:?}"
    );
    let errs = errors(&IAM.replace("auth: iam", "auth: sigv4"));
    assert!(errs.iter().any(|e| e.contains("routes[0].auth") && e.contains("sigv4")), "{errs:?}");
    let errs = errors(&format!("{IAM}  - name: x\n    routes: []\n").replace("region: eu-west-1", "region: EU West"));
    assert!(errs.iter().any(|e| e.contains("iam.region")), "{errs:?}");
}

const PLANS: &str = "\
throttling:
  rate: 100
  burst: 50
  per_client: { rate: 5, burst: 10 }
shared_state:
  redis:
    url: redis://127.0.0.1:6379/0
    on_failure: fail_closed
apis:
  - name: pets
    stages:
      - name: prod
        throttle: { rate: 20, burst: 10 }
      - name: beta
    routes:
      - route: GET /pets
        api_key_required: true
        throttle: { rate: 10, burst: 5 }
        integration: { type: mock }
      - route: POST /pets
        api_key_required: true
        integration: { type: mock }
usage_plans:
  - id: basic
    throttle: { rate: 2, burst: 4 }
    quota: { limit: 1000, period: MONTH, offset: 14, time_zone: Europe/Paris }
    api_stages:
      - api: pets
        stage: prod
        throttle:
          POST /pets: { rate: 0.5, burst: 1 }
";

#[test]
fn usage_plans_compile_and_attach_to_their_stages() -> Result<(), String> {
    let c = load_str("x.yaml", PLANS, |_| None).map_err(|e| e.to_string())?;
    let api = &c.apis[0];
    assert_eq!(api.route_key_required, vec![true, true]);
    assert!(api.route_throttle[0].is_some() && api.route_throttle[1].is_none());
    let (prod, beta) = (&api.stages[0], &api.stages[1]);
    assert!(prod.throttle.is_some() && beta.throttle.is_none());
    assert_eq!(prod.plans.len(), 1);
    assert!(beta.plans.is_empty());
    assert!(prod.plans[0].route_throttle[0].is_none());
    assert_eq!(prod.plans[0].route_throttle[1].map(|l| l.rate()), Some(0.5));
    let plan = &c.plans[0];
    assert_eq!((&*plan.id, plan.name.as_str()), ("basic", "basic"));
    assert_eq!(plan.quota.as_ref().map(|q| (q.limit(), q.offset(), q.time_zone())), Some((1000, 14, "Europe/Paris")));
    assert_eq!(c.client_limit.map(|l| l.burst()), Some(10));
    let mode = c.config.shared_state.redis.as_ref().map(|r| crate::Compiled::failure_mode_of(r.on_failure));
    assert_eq!(mode, Some(limits::FailureMode::FailClosed));
    Ok(())
}

#[test]
fn bad_usage_plans_name_their_place() {
    let text = PLANS
        .replace("stage: prod\n        throttle:", "stage: prud\n        throttle:")
        .replace("Europe/Paris", "Europe/Pariss")
        .replace("throttle: { rate: 2, burst: 4 }", "throttle: { rate: 200, burst: 4 }")
        .replace("redis://127", "http://127");
    assert_eq!(
        errors(&text),
        vec![
            "x.yaml:7:5: shared_state.redis.url: must start with `redis://`",
            "x.yaml:25:5: usage_plans[0].throttle: a plan's throttle cannot be above the gateway's (100/s burst 50)",
            "x.yaml:26:54: usage_plans[0].quota.time_zone: unknown time zone `Europe/Pariss` (use an IANA name like `Europe/Paris`, or `UTC`)",
            "x.yaml:29:9: usage_plans[0].api_stages[0].stage: API `pets` has no stage `prud`",
            "x.yaml:17:9: apis[0].routes[0].api_key_required: no usage plan covers a stage of API `pets`, so no key could call this route",
        ]
    );
    let text = PLANS.replace("POST /pets: {", "PUT /pets: {").replace("offset: 14", "offset: 28");
    assert_eq!(
        errors(&text),
        vec![
            "x.yaml:26:42: usage_plans[0].quota.offset: offset 28 is out of range for MONTH: MONTH takes 0 (the 1st) to 27 (the 28th)",
            "x.yaml:31:11: usage_plans[0].api_stages[0].throttle.PUT /pets: API `pets` has no route `PUT /pets`",
        ]
    );
}

#[test]
fn key_routes_need_a_plan_and_redis_needs_no_tls() {
    let text = PLANS.replace("usage_plans:", "unused_plans:").replace("redis://127", "rediss://127");
    let errs = errors(text.split("unused_plans:").next().unwrap_or_default());
    assert!(errs.iter().any(|e| e.contains("shared_state.redis.url: TLS to Redis")), "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("apis[0].routes[0].api_key_required: no usage plan covers a stage of API `pets`")),
        "{errs:?}"
    );
}

#[test]
fn bad_throttles_and_key_sources_are_refused() {
    let text = PLANS
        .replace("rate: 10, burst: 5", "rate: -1, burst: 5")
        .replace("  - name: pets\n", "  - name: pets\n    api_key_source: AUTHORIZER\n");
    let errs = errors(&text);
    assert!(
        errs.iter().any(|e| e.starts_with("x.yaml:18:9:")
            && e.contains("apis[0].routes[0].api_key_required: with `api_key_source: AUTHORIZER`")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("apis[0].routes[0].throttle.rate: rate must be")), "{errs:?}");
}

const AUTHORIZERS: &str = "\
apis:
  - name: pets
    api_key_source: AUTHORIZER
    authorizers:
      - name: tokens
        type: TOKEN
        url: https://auth.example.com/check
        validation_regex: 'Bearer [a-z]+'
        ttl: 60s
        upstream_headers:
          x-user: $context.authorizer.principalId
      - name: requests
        type: REQUEST
        url: http://127.0.0.1:9001/
        identity_sources: [method.request.header.X-Token, $request.querystring.tenant, stageVariables.zone, context.identity.sourceIp]
        payload_format_version: '2.0'
        simple_responses: true
    routes:
      - route: GET /pets
        auth: custom
        authorizer: tokens
        integration: { type: mock }
      - route: GET /mine
        auth: custom
        authorizer: requests
        integration: { type: mock }
";

#[test]
fn authorizers_compile_with_their_identity_sources() -> Result<(), String> {
    let c = load_str("x.yaml", AUTHORIZERS, |_| None).map_err(|e| e.to_string())?;
    let api = &c.apis[0];
    assert_eq!(api.route_auth, vec![crate::CompiledAuth::Custom(0), crate::CompiledAuth::Custom(1)]);
    let (tokens, requests) = (&api.authorizers[0], &api.authorizers[1]);
    assert_eq!(tokens.identity, vec![crate::IdentitySource::Header(http::header::AUTHORIZATION)]);
    let re = tokens.validation.as_ref().ok_or("no regex")?;
    assert!(re.is_match("Bearer abc") && !re.is_match("xBearer abc") && !re.is_match("Bearer abc!"));
    assert_eq!(tokens.ttl, std::time::Duration::from_secs(60));
    assert_eq!(tokens.timeout, std::time::Duration::from_secs(10), "API Gateway's default");
    assert_eq!(
        requests.identity,
        vec![
            crate::IdentitySource::Header(http::HeaderName::from_static("x-token")),
            crate::IdentitySource::Query("tenant".into()),
            crate::IdentitySource::StageVariable("zone".into()),
            crate::IdentitySource::Context(crate::ContextVar::IdentitySourceIp),
        ]
    );
    assert_eq!(requests.ttl, std::time::Duration::from_secs(300), "API Gateway's default");
    Ok(())
}

#[test]
fn authorizer_mistakes_are_named_with_their_places() {
    let text = AUTHORIZERS
        .replace("type: TOKEN\n", "type: TOKEN\n        payload_format_version: '2.0'\n")
        .replace("'Bearer [a-z]+'", "'Bearer [a-z'")
        .replace("ttl: 60s", "ttl: 2h")
        .replace("x-user:", "host:")
        .replace("$request.querystring.tenant", "request.body.tenant")
        .replace("authorizer: requests", "authorizer: request");
    assert_eq!(
        errors(&text),
        vec![
            "x.yaml:9:9: apis[0].authorizers[0].validation_regex: not a regular expression: regex parse error:\n    ^(?:Bearer [a-z)$\n               ^\nerror: unclosed character class",
            "x.yaml:10:9: apis[0].authorizers[0].ttl: must be from 0 to 3600s",
            "x.yaml:7:9: apis[0].authorizers[0].payload_format_version: \"2.0\" events are REQUEST events; use type: REQUEST",
            "x.yaml:12:11: apis[0].authorizers[0].upstream_headers.host: `host` is set by the gateway itself",
            "x.yaml:16:59: apis[0].authorizers[1].identity_sources[1]: `request.body.tenant` is not an identity source: use `method.request.header.NAME`, `method.request.querystring.NAME`, `stageVariables.NAME` or `context.VARIABLE`",
            "x.yaml:26:9: apis[0].routes[1].authorizer: this API has no authorizer `request` (did you mean `requests`?)",
        ]
    );
    let text = AUTHORIZERS
        .replace("        authorizer: tokens\n", "")
        .replace("auth: custom\n        authorizer: requests", "authorizer: requests");
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.contains("routes[0].authorizer: `auth: custom` needs the name")), "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("routes[1].authorizer: an authorizer is used only with `auth: custom` or `auth: jwt`")),
        "{errs:?}"
    );
    let text = AUTHORIZERS.replace("simple_responses: true", "ttl: 5s").replace(
        "identity_sources: [method.request.header.X-Token, $request.querystring.tenant, stageVariables.zone, context.identity.sourceIp]",
        "identity_sources: []",
    );
    let errs = errors(&text);
    assert!(
        errs.iter().any(|e| e.contains("authorizers[1].identity_sources: caching keys on the identity sources")),
        "{errs:?}"
    );
}

const JWT: &str = "\
apis:
  - name: pets
    jwt_authorizers:
      - name: users
        issuers:
          - issuer: https://id.example.com/pool1
            audiences: [app1, app2]
          - issuer: 'http://127.0.0.1:9000'
            audiences: [app3]
            jwks_uri: 'http://127.0.0.1:9000/keys?v=2'
        algorithms: [RS256, ES256]
        token_use: access
        required_claims: { tenant: acme }
        upstream_headers:
          x-user: $context.authorizer.claims.sub
    routes:
      - route: GET /pets
        auth: jwt
        authorizer: users
        authorization_scopes: [pets/read, pets/admin]
        integration: { type: mock }
      - route: GET /open
        integration: { type: mock }
";

#[test]
fn jwt_authorizers_compile_with_their_issuers_and_route_scopes() -> Result<(), String> {
    let c = load_str("x.yaml", JWT, |_| None).map_err(|e| e.to_string())?;
    let api = &c.apis[0];
    assert_eq!(api.route_auth, vec![crate::CompiledAuth::Jwt(0), crate::CompiledAuth::None]);
    assert_eq!(api.route_scopes, vec![vec!["pets/read".to_owned(), "pets/admin".to_owned()], vec![]]);
    let users = &api.jwt_authorizers[0];
    assert_eq!(users.header, http::header::AUTHORIZATION, "the default identity source");
    assert_eq!(users.issuers.len(), 2);
    assert_eq!(users.algorithms, ["RS256", "ES256"]);
    assert_eq!(users.required_claims, vec![("tenant".to_owned(), "acme".to_owned())]);
    assert_eq!(users.clock_skew, std::time::Duration::from_secs(30));
    assert_eq!(users.keys_refresh, std::time::Duration::from_secs(3600));
    assert_eq!(users.upstream_headers.len(), 1);
    Ok(())
}

#[test]
fn jwt_authorizer_mistakes_are_named_with_their_places() {
    let text = JWT
        .replace("https://id.example.com/pool1", "http://id.example.com/pool1")
        .replace("audiences: [app3]", "audiences: []")
        .replace("[RS256, ES256]", "[RS256, HS256, none, XS1]")
        .replace("token_use: access", "token_use: refresh")
        .replace("authorizer: users", "authorizer: user");
    assert_eq!(
        errors(&text),
        vec![
            "x.yaml:6:13: apis[0].jwt_authorizers[0].issuers[0].issuer: must be https:// (http:// only on a loopback address)",
            "x.yaml:9:13: apis[0].jwt_authorizers[0].issuers[1].audiences: name 1-50 audiences (client ids): a token for another application of the same provider must not pass",
            "x.yaml:11:29: apis[0].jwt_authorizers[0].algorithms[1]: `HS256` is never accepted: tokens must be signed with the provider's private key",
            "x.yaml:11:36: apis[0].jwt_authorizers[0].algorithms[2]: `none` is never accepted: tokens must be signed with the provider's private key",
            "x.yaml:11:42: apis[0].jwt_authorizers[0].algorithms[3]: `XS1` is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
            "x.yaml:12:9: apis[0].jwt_authorizers[0].token_use: must be `access` or `id`",
            "x.yaml:19:9: apis[0].routes[0].authorizer: this API has no JWT authorizer `user` (did you mean `users`?)",
        ]
    );
    let text = JWT
        .replace("https://id.example.com/pool1", "https://id.example.com/pool1?x=1")
        .replace("        auth: jwt\n        authorizer: users\n", "")
        .replace("route: GET /open\n", "route: GET /open\n        auth: jwt\n");
    let errs = errors(&text);
    for want in [
        "issuers[0].issuer: must not have a query or fragment",
        "routes[0].authorization_scopes: scopes are checked only on routes with `auth: jwt`",
        "routes[1].authorizer: `auth: jwt` needs the name of one of the API's `jwt_authorizers`",
    ] {
        assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
    }
}

const POOLS: &str = "\
user_pools:
  - name: main
    issuer: 'https://auth.example.com/main'
    clients:
      - id: web
apis:
  - name: app
    jwt_authorizers:
      - name: pool
        issuers:
          - user_pool: main
            audiences: [web]
    routes:
      - route: ANY /auth/{proxy+}
        integration: { type: user_pool, pool: main }
      - route: GET /me
        auth: jwt
        authorizer: pool
        integration: { type: mock }
";

#[test]
fn user_pools_compile_and_jwt_authorizers_take_their_issuer() -> Result<(), String> {
    let c = load_str("x.yaml", POOLS, |_| None).map_err(|e| e.to_string())?;
    assert_eq!(c.user_pools.len(), 1);
    assert_eq!(c.user_pools[0].password_policy.min_length, 8, "Cognito's default");
    assert_eq!(c.user_pools[0].clients[0].refresh_token_ttl.as_std().as_secs(), 30 * 86_400);
    let issuer = &c.apis[0].jwt_authorizers[0].issuers[0];
    assert_eq!(issuer.issuer, "https://auth.example.com/main");
    Ok(())
}

#[test]
fn user_pool_mistakes_are_named_with_their_places() {
    let text = POOLS
        .replace("issuer: 'https://auth.example.com/main'", "issuer: 'http://auth.example.com/main'\n    password_policy: { min_length: 4 }\n    code_delivery: { type: webhook }")
        .replace("      - id: web\n", "      - id: web\n      - id: web\n")
        .replace("pool: main }", "pool: mian }");
    let errs = errors(&text);
    for want in [
        "user_pools[0].issuer: must be https:// (http:// only on a loopback address)",
        "user_pools[0].password_policy.min_length: must be from 8 to 256",
        "user_pools[0].code_delivery.url: `type: webhook` needs a URL",
        "user_pools[0].clients[1].id: client `web` is defined twice",
        "routes[0].integration.pool: there is no user pool `mian` (did you mean `main`?)",
    ] {
        assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
    }
    let errs = errors(&POOLS.replace("- user_pool: main", "- user_pool: mains"));
    let want = "jwt_authorizers[0].issuers[0].user_pool: there is no user pool `mains` (did you mean `main`?)";
    assert!(errs.iter().any(|e| e.contains(want)), "{errs:?}");
    let text = POOLS.replace(
        "integration: { type: user_pool, pool: main }",
        "auth: iam\n        integration: { type: user_pool, pool: main }",
    );
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|e| e.contains("routes[0].auth: a user pool's endpoints authenticate their callers themselves")),
        "{errs:?}"
    );
}

#[test]
fn oauth_client_mistakes_are_named_with_their_places() {
    let text = POOLS.replace(
        "      - id: web\n",
        "      - id: web\n        oauth_flows: [code, client_credentials]\n        callback_urls: ['http://app.example.com/cb']\n        allowed_scopes: [openid, pets/read]\n        secret_sha256: abc\n",
    );
    let errs = errors(&text);
    for want in [
        "clients[0].callback_urls[0]: must be https:// (http:// only on a loopback address)",
        "clients[0].secret_sha256: 64 hex digits",
        "clients[0].allowed_scopes[1]: `pets/read` is neither a standard scope nor one of the pool's resource servers' `IDENTIFIER/NAME`",
    ] {
        assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
    }
    let text = POOLS.replace("      - id: web\n", "      - id: web\n        oauth_flows: [code, client_credentials]\n");
    let errs = errors(&text);
    assert!(
        errs.iter().any(|e| e.contains("clients[0].callback_urls: the `code` flow needs at least one callback URL")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("clients[0].oauth_flows: `client_credentials` is for confidential clients")),
        "{errs:?}"
    );
}

#[test]
fn domain_mistakes_are_named_with_their_places() {
    let text = "\
tls:
  default_endpoint: false
  hsts: { preload: true }
domains:
  - name: bad_name.example.com
  - name: '*.example.com'
    certificate: { cert: a.pem, key: a.key }
    acme: { directory: 'https://acme.example/dir' }
  - name: api.example.com
    mutual_tls: { mode: required, truststore: [] }
apis:
  - name: pets
    routes:
      - route: GET /pets
        client_certificate: {}
        integration: { type: mock }
";
    assert_eq!(
        errors(text),
        vec![
            "x.yaml:5:5: domains[0].name: `bad_name.example.com` is not a host name (or `*.` and one)",
            "x.yaml:8:5: domains[1].acme: a domain takes its certificate from files or from ACME, not both",
            "x.yaml:8:5: domains[1].acme: wildcard names need the dns-01 challenge, which is not supported",
            "x.yaml:8:5: domains[1].acme.challenge: http-01 is answered on the `http_redirect` listener: configure it (port 80 for a public CA)",
            "x.yaml:10:35: domains[2].mutual_tls.truststore: name at least one PEM file of CAs",
            "x.yaml:3:11: tls.hsts.preload: preload lists accept only `include_subdomains: true` with a `max_age` of at least a year",
        ]
    );
    let no_domains = "tls:\n  default_endpoint: false\napis:\n  - name: a\n    routes:\n      - route: GET /\n        client_certificate: {}\n        integration: { type: mock }\n";
    let errs = errors(no_domains);
    assert!(errs.iter().any(|e| e.contains("tls.default_endpoint: with the default endpoint off")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("routes[0].client_certificate: no domain has `mutual_tls`")), "{errs:?}");
}

#[test]
fn base_path_mappings_route_a_domain_alone() -> Result<(), String> {
    let text = "\
domains:
  - name: api.example.com
    mappings:
      - { base_path: /v1, api: pets, stage: prod }
      - { api: shop, stage: live }
apis:
  - name: pets
    base_path: /pets-api
    stages: [{ name: prod }, { name: beta }]
    routes:
      - { route: GET /pets, integration: { type: mock } }
  - name: shop
    stages: [{ name: live }]
    routes:
      - { route: GET /cart, integration: { type: mock } }
";
    let c = load_str("x.yaml", text, |_| None).map_err(|e| e.to_string())?;
    let pick = |host: &str, path: &'static str| {
        c.select(Some(host), path).map(|s| (s.api.name.clone(), s.stage.name.clone(), s.rest, s.base_path_matched))
    };
    assert_eq!(pick("api.example.com:443", "/v1/pets"), Some(("pets".into(), "prod".into(), "/pets", Some("v1"))));
    assert_eq!(pick("API.example.com", "/cart"), Some(("shop".into(), "live".into(), "/cart", Some("(none)"))));
    assert_eq!(pick("api.example.com", "/v10/pets").map(|p| p.0), Some("shop".into()), "a prefix is whole segments");
    // Without the domain, the APIs' own base paths and stage segments apply.
    assert_eq!(pick("other.example.com", "/pets-api/beta/pets"), Some(("pets".into(), "beta".into(), "/pets", None)));
    let bad = text.replace("stage: live", "stage: dead").replace("base_path: /v1", "base_path: /v1/");
    assert_eq!(
        errors(&bad),
        vec![
            "x.yaml:4:11: domains[0].mappings[0].base_path: must be `/` or a canonical path like `/v1` without a trailing slash",
            "x.yaml:5:22: domains[0].mappings[1].stage: API `shop` has no stage `dead`",
        ]
    );
    Ok(())
}

#[test]
fn access_log_files_node_name_and_alarms_are_checked_with_their_lines() {
    let text = format!(
        "node_name: .hidden\naccess_log:\n  file:\n    max_segment_bytes: 100\n    retain: 10s\nmetrics:\n  retention: 30s\nalarms:\n  - name: a\n    metric: 5xx\n    period: 15s\n    comparison: GreaterThanThreshold\n    threshold: 1\n  - name: a\n    template: throttling\n    evaluation_periods: 2\n    datapoints_to_alarm: 3\n    dimensions: {{key: k1, api: pets}}\n{GOOD}"
    );
    let found = errors(&text);
    for expected in [
        "x.yaml:1:1: node_name: must be 1 to 64 letters",
        "x.yaml:4:5: access_log.file.max_segment_bytes: must be at least 65536",
        "x.yaml:5:5: access_log.file.retain: must be at least 1m",
        "x.yaml:7:3: metrics.retention: must be at least 1m",
        "x.yaml:10:5: alarms[0].metric: unknown metric `5xx`; one of Count, 4XXError, 5XXError",
        "alarms[0].period: must be a multiple of 10s",
        "x.yaml:14:5: alarms[1].name: alarm name `a` is already used by alarms[0]",
        "alarms[1].datapoints_to_alarm: must be between 1 and evaluation_periods (2)",
        "alarms[1].dimensions: `key` cannot be combined with api, stage or route",
    ] {
        assert!(found.iter().any(|e| e.contains(expected)), "{expected}\n{found:#?}");
    }
    let nowhere = format!("access_log:\n  stdout: false\n{GOOD}");
    assert_eq!(
        errors(&nowhere),
        vec!["x.yaml:2:3: access_log.stdout: is false and there is no access_log.file: lines would go nowhere (set access_log.enabled: false)"]
    );
    assert_eq!(errors(&format!("access_log:\n  file:\n    retain: 7d\n{GOOD}")), Vec::<String>::new());
}

#[test]
fn web_acls_are_checked_at_their_paths_and_apis_must_name_one_that_exists() {
    let text = format!(
        "web_acls:\n  - name: main\n    default_action: allow\n    rules:\n      - name: r\n        priority: 1\n        action: block\n        statement:\n          byte_match: {{field: uri_path, position: contains, search: x, transforms: [URL_DECODED]}}\n{}",
        GOOD.replace("  - name: pets\n", "  - name: pets\n    web_acl: mian\n")
    );
    let found = errors(&text);
    assert!(
        found
            .iter()
            .any(|e| e.contains("web_acls[0].rules[0].statement.byte_match.transforms") && e.contains("URL_DECODED")),
        "{found:#?}"
    );
    assert!(found.iter().any(|e| e.contains("apis[0].web_acl: no web ACL named `mian`")), "{found:#?}");
    let fixed = text.replace("URL_DECODED", "URL_DECODE").replace("web_acl: mian", "web_acl: main");
    assert_eq!(errors(&fixed), Vec::<String>::new());
}

/// A published config takes the node's own listeners, store, Redis, name and certificates from
/// its file, and everything else from the published text, whose lines its errors name.
#[test]
fn a_published_config_keeps_the_node_settings_of_the_file() {
    let node = "listen: 127.0.0.1:7443\nadmin:\n  listen: 127.0.0.1:7444\nnode_name: node-7\n\
                store:\n  url: postgres://db/portcullis\nshared_state:\n  redis:\n    url: redis://cache\n\
                cluster:\n  heartbeat: 2s\n";
    let local = load_str("node.yaml", &format!("{node}{GOOD}"), |_| Some("http://127.0.0.1:9".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let published = "listen: 0.0.0.0:1\nnode_name: other\nstore:\n  url: sqlite://elsewhere\n\
                     apis:\n  - name: cats\n    routes:\n      - route: GET /cats\n        integration: { type: mock }\n";
    let c = super::load_published("version 3", published, |_| None, &local.config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.config.listen, local.config.listen);
    assert_eq!(c.config.admin.listen, local.config.admin.listen);
    assert_eq!(c.config.node_name.as_deref(), Some("node-7"));
    assert_eq!(c.config.store.url.as_deref(), Some("postgres://db/portcullis"));
    assert!(c.config.shared_state.redis.is_some());
    assert_eq!(c.config.cluster, local.config.cluster);
    assert_eq!(c.apis.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["cats"]);

    let bad = "apis:\n  - name: cats\n    routes:\n      - route: FETCH /cats\n        integration: { type: mock }\n";
    let errors = match super::load_published("v.yaml", bad, |_| None, &local.config) {
        Ok(_) => panic!("a bad method compiled"),
        Err(e) => e.0,
    };
    assert_eq!((errors[0].file.as_str(), errors[0].line), ("v.yaml", 4), "{errors:?}");
}

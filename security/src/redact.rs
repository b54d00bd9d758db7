//! Credentials out of printed URLs: what a log line may say about an endpoint.

/// Query parameters whose values are withheld when a URL is printed, compared case-insensitively as
/// substrings of the parameter name (`api_key`, `X-Auth-Token`, `sig`...).
const SECRET_PARAMETERS: [&str; 7] = [
    "token",
    "key",
    "secret",
    "password",
    "auth",
    "sig",
    "credential",
];

/// What replaces a withheld part.
const REDACTED: &str = "REDACTED";

/// The URL as it may be printed: userinfo (`user:password@`) and the values of secret-looking query
/// parameters become `REDACTED`, and the fragment is dropped. Works on text that is not a valid URL too, so
/// an endpoint refused for its syntax can still be named in the error.
pub fn url(raw: &str) -> String {
    let (before_fragment, _) = raw.split_once('#').unwrap_or((raw, ""));
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    let mut out = without_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let parameters: Vec<String> = query.split('&').map(parameter).collect();
        out.push_str(&parameters.join("&"));
    }
    out
}

/// `text` (an error message, say) with every appearance of `raw_url`, and of its userinfo, replaced by the
/// printable form of the URL, so an error that quotes the endpoint does not carry its credentials.
pub fn within(text: &str, raw_url: &str) -> String {
    let mut out = text.replace(raw_url, &url(raw_url));
    if let Some(userinfo) = userinfo(raw_url) {
        out = out.replace(userinfo, REDACTED);
    }
    out
}

fn userinfo(raw: &str) -> Option<&str> {
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority
        .rfind('@')
        .map(|at| &authority[..at])
        .filter(|info| !info.is_empty())
}

fn without_userinfo(base: &str) -> String {
    let (scheme, rest) = match base.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, base),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    // The last `@` ends the userinfo: a password may itself hold one.
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

fn parameter(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _)) if is_secret(name) => format!("{name}={REDACTED}"),
        _ => pair.to_owned(),
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMETERS.iter().any(|secret| name.contains(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_parameters_are_withheld() {
        assert_eq!(
            url("http://user:t0k@en@collector:4317/v1?tenant=a&api_key=k3y#frag"),
            "http://REDACTED@collector:4317/v1?tenant=a&api_key=REDACTED"
        );
        assert_eq!(url("http://collector:4317"), "http://collector:4317");
        assert_eq!(url("user:pw@host:1"), "REDACTED@host:1");
        assert_eq!(url("http://h/?Token=x&sig"), "http://h/?Token=REDACTED&sig");
    }

    #[test]
    fn messages_quoting_the_url_lose_its_credentials() {
        let raw = "http://user:pw@collector:4317";
        assert_eq!(
            within(&format!("cannot reach {raw}: user:pw refused"), raw),
            "cannot reach http://REDACTED@collector:4317: REDACTED refused"
        );
        assert_eq!(within("plain", "http://collector:4317"), "plain");
    }
}

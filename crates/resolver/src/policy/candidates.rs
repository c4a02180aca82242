//! The candidate list: which fully qualified names a lookup tries, in which order.
//!
//! Algorithm (glibc's `res_search` order):
//! - a name ending in `.` is absolute: only that name;
//! - otherwise count the dots: with `dots >= ndots` the name as-is first, then the name with
//!   each search domain appended; with fewer dots the search names first and the name as-is
//!   last;
//! - a combination longer than a domain name may be (255 octets) is skipped; duplicates are
//!   tried once.

use hickory_proto::rr::Name;
use tracing::debug;

/// The candidates for `name` (already parsed; absolute iff `name.is_fqdn()`), given the search
/// list (absolute names) and `ndots`.
pub(crate) fn candidates(name: &Name, search: &[Name], ndots: u8) -> Vec<Name> {
    let mut as_is = name.clone();
    as_is.set_fqdn(true);
    if name.is_fqdn() {
        return vec![as_is];
    }
    let dots = usize::from(name.num_labels()).saturating_sub(1);
    let mut searched = Vec::with_capacity(search.len());
    for domain in search {
        match name.clone().append_domain(domain) {
            Ok(candidate) => searched.push(candidate),
            Err(error) => debug!(%name, %domain, %error, "search candidate skipped"),
        }
    }
    let mut list = Vec::with_capacity(searched.len() + 1);
    if dots >= usize::from(ndots) {
        list.push(as_is);
        list.extend(searched);
    } else {
        list.extend(searched);
        list.push(as_is);
    }
    let mut unique: Vec<Name> = Vec::with_capacity(list.len());
    for candidate in list {
        if !unique.contains(&candidate) {
            unique.push(candidate);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<Name> {
        list.iter().map(|n| Name::from_ascii(n).unwrap()).collect()
    }

    fn run(name: &str, search: &[&str], ndots: u8) -> Vec<String> {
        candidates(&Name::from_ascii(name).unwrap(), &names(search), ndots)
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    #[test]
    fn absolute_name_is_tried_alone() {
        assert_eq!(
            run("cloudflare.com.", &["corp.example."], 1),
            ["cloudflare.com."]
        );
    }

    #[test]
    fn enough_dots_tries_name_first() {
        assert_eq!(
            run("cloudflare.com", &["in.our.internal.domain.", "b."], 1),
            [
                "cloudflare.com.",
                "cloudflare.com.in.our.internal.domain.",
                "cloudflare.com.b."
            ]
        );
    }

    #[test]
    fn few_dots_tries_search_names_first() {
        assert_eq!(
            run(
                "myservice",
                &["default.svc.cluster.local.", "svc.cluster.local."],
                5
            ),
            [
                "myservice.default.svc.cluster.local.",
                "myservice.svc.cluster.local.",
                "myservice."
            ]
        );
        assert_eq!(run("a.b", &["c."], 2), ["a.b.c.", "a.b."]);
    }

    #[test]
    fn ndots_zero_and_no_search() {
        assert_eq!(run("host", &["c."], 0), ["host.", "host.c."]);
        assert_eq!(run("host", &[], 1), ["host."]);
    }

    #[test]
    fn too_long_combinations_are_skipped_and_duplicates_dropped() {
        let long = format!("{}.{}.{}.", "a".repeat(63), "b".repeat(63), "c".repeat(63));
        let name = "x".repeat(63);
        let got = run(&name, &[&long, "d.", "d."], 1);
        assert_eq!(got, [format!("{name}.d."), format!("{name}.")]);
    }
}

//! Pagination of the tag list and the catalog: `?n=<int>&last=<entry>` picks the entries
//! after `last` (lexically), at most `n` of them; an answer that leaves entries out links
//! to the next page with `Link: <...?n=N&last=L>; rel="next"`. Without `n` everything
//! after `last` comes in one answer; with `n=0` an empty list and no link, as the spec
//! asks.

use http::StatusCode;

use super::error::ApiError;

/// The `n` and `last` of a listing request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Page {
    pub n: Option<usize>,
    pub last: Option<String>,
}

impl Page {
    /// Read `n` and `last` from a query string (an empty `n` is no `n`; a number too big
    /// for memory means "all"). A repeated parameter counts once, the first time.
    pub(crate) fn parse(query: Option<&str>) -> Result<Page, ApiError> {
        let mut page = Page::default();
        let mut seen_n = false;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "n" if !seen_n => {
                    seen_n = true;
                    page.n = parse_n(&value)?;
                }
                "last" if page.last.is_none() => page.last = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(page)
    }

    /// The page of `items` (in lexical order) this asks for, and the `last` of the next
    /// page when entries remain after it.
    pub(crate) fn apply(&self, items: Vec<String>) -> (Vec<String>, Option<String>) {
        let mut rest: Vec<String> = items
            .into_iter()
            .filter(|i| self.last.as_ref().is_none_or(|l| i > l))
            .collect();
        let Some(n) = self.n else {
            return (rest, None);
        };
        let more = rest.len() > n;
        rest.truncate(n);
        let next = rest.last().filter(|_| more).cloned();
        (rest, next)
    }

    /// The `Link` header value to the page after `last`, under `path`.
    pub(crate) fn next_link(&self, path: &str, last: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &self.n.unwrap_or(usize::MAX).to_string())
            .append_pair("last", last)
            .finish();
        format!("<{path}?{query}>; rel=\"next\"")
    }
}

/// `n`: digits only. Anything else is refused (UNSUPPORTED: the spec has no code for a bad
/// page size, and distribution's PAGINATION_NUMBER_INVALID is not one of its codes).
fn parse_n(value: &str) -> Result<Option<usize>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unsupported(
            format!(
                "n must be a number of entries, not '{}'",
                value.chars().take(40).collect::<String>()
            ),
            StatusCode::BAD_REQUEST,
        ));
    }
    Ok(Some(value.parse().unwrap_or(usize::MAX)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn page(n: Option<usize>, last: Option<&str>) -> Page {
        Page {
            n,
            last: last.map(str::to_string),
        }
    }

    #[test]
    fn pages_follow_the_spec() {
        let items: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let names = |v: &[String]| v.join(",");
        let (all, next) = page(None, None).apply(items.clone());
        assert_eq!((names(&all), next), ("a,b,c,d".into(), None));
        let (first, next) = page(Some(2), None).apply(items.clone());
        assert_eq!(
            (names(&first), next.clone()),
            ("a,b".into(), Some("b".into()))
        );
        let (second, next) = page(Some(2), next.as_deref()).apply(items.clone());
        assert_eq!((names(&second), next), ("c,d".into(), None));
        let (none, next) = page(Some(0), None).apply(items.clone());
        assert_eq!((none.len(), next), (0, None));
        let (after, _) = page(None, Some("bb")).apply(items);
        assert_eq!(names(&after), "c,d");
        assert_eq!(
            page(Some(2), None).next_link("/v2/web/tags/list", "b"),
            "</v2/web/tags/list?n=2&last=b>; rel=\"next\""
        );
    }

    #[test]
    fn bad_page_sizes_are_refused() {
        assert!(Page::parse(Some("n=-1")).is_err());
        assert!(Page::parse(Some("n=abc")).is_err());
        assert_eq!(Page::parse(Some("n=")).unwrap(), Page::default());
        assert_eq!(
            Page::parse(Some("n=99999999999999999999999")).unwrap().n,
            Some(usize::MAX)
        );
    }

    proptest! {
        #[test]
        fn any_query_parses_or_is_refused_without_panicking(q in ".{0,200}") {
            let _ = Page::parse(Some(&q));
        }

        #[test]
        fn a_page_reads_back_from_its_query(n in proptest::option::of(any::<usize>()), last in proptest::option::of(".{0,30}")) {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(n) = n {
                query.append_pair("n", &n.to_string());
            }
            if let Some(last) = &last {
                query.append_pair("last", last);
            }
            let parsed = Page::parse(Some(&query.finish())).unwrap();
            prop_assert_eq!(parsed, Page { n, last });
        }

        #[test]
        fn following_the_links_lists_every_entry_once(
            items in proptest::collection::btree_set("[a-z0-9._-]{1,6}", 0..40),
            n in 1usize..10,
        ) {
            let items: Vec<String> = items.into_iter().collect();
            let mut seen = Vec::new();
            let mut current = page(Some(n), None);
            loop {
                let (entries, next) = current.apply(items.clone());
                prop_assert!(entries.len() <= n);
                seen.extend(entries);
                let Some(next) = next else { break };
                // The link's query is what the next request sends.
                let link = current.next_link("/v2/x/tags/list", &next);
                let query = link.split_once('?').unwrap().1.split_once('>').unwrap().0;
                current = Page::parse(Some(query)).unwrap();
            }
            prop_assert_eq!(seen, items);
        }
    }
}

//! `nextToken` / `maxResults` pagination over an ordered list.
//!
//! A token is the opaque (base64) sort key of the last item returned; the next page starts
//! after it, so a page stays correct when items are added or removed in between.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flotilla_model::ModelError;

/// Which way a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// Check `maxResults` against `1..=max`, defaulting to `max`.
pub fn page_size(max_results: Option<i64>, max: usize) -> Result<usize, ModelError> {
    match max_results {
        None => Ok(max),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(ModelError::invalid(format!(
            "maxResults must be between 1 and {max}; got {n}."
        ))),
    }
}

/// One page of `items` (already sorted by `key` in `order`) and the token of the next.
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    order: Order,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ModelError> {
    let after = match token {
        None | Some("") => None,
        Some(t) => {
            let bytes = URL_SAFE_NO_PAD
                .decode(t)
                .map_err(|_| ModelError::invalid("Invalid nextToken."))?;
            Some(String::from_utf8(bytes).map_err(|_| ModelError::invalid("Invalid nextToken."))?)
        }
    };
    let mut page: Vec<T> = items
        .into_iter()
        .filter(|item| match &after {
            None => true,
            Some(a) => match order {
                Order::Asc => key(item).as_str() > a.as_str(),
                Order::Desc => key(item).as_str() < a.as_str(),
            },
        })
        .take(size + 1)
        .collect();
    let next = if page.len() > size {
        page.truncate(size);
        page.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
    } else {
        None
    };
    Ok((page, next))
}

/// [`paginate`] for a list of strings (ARNs, names) that is its own sort key, ascending.
pub fn paginate_strings(
    items: Vec<String>,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<String>, Option<String>), ModelError> {
    paginate(items, |s| s.clone(), Order::Asc, token, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_every_item_once_in_both_orders() {
        let items: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
        for order in [Order::Asc, Order::Desc] {
            let mut sorted = items.clone();
            if order == Order::Desc {
                sorted.reverse();
            }
            let mut seen = Vec::new();
            let mut token = None;
            loop {
                let (page, next) =
                    paginate(sorted.clone(), |s| s.clone(), order, token.as_deref(), 3).unwrap();
                seen.extend(page);
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            assert_eq!(seen, sorted);
        }
    }

    #[test]
    fn rejects_bad_tokens_and_sizes() {
        assert!(paginate(
            vec!["a".to_string()],
            |s| s.clone(),
            Order::Asc,
            Some("%%%"),
            1
        )
        .is_err());
        assert!(page_size(Some(0), 100).is_err());
        assert!(page_size(Some(101), 100).is_err());
        assert_eq!(page_size(None, 100).unwrap(), 100);
    }
}

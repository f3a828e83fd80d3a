//! Cursor pagination over lists sorted by a unique key: a cursor is the last key a page
//! returned, opaque to clients (base64url), so paging stays right when a new snapshot
//! arrives between two pages (no entry is skipped or repeated unless it changed).
//!
//! Invariant: pages of one list, followed cursor to cursor, return every entry once, in key
//! order.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::ApiError;

/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// Paging parameters of a list route.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Entries per page, 1..=500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `meta.next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct Page {
    /// Most entries to return, 1..=[`MAX_LIMIT`].
    pub limit: usize,
    /// The decoded cursor: the page holds only entries whose key sorts after it.
    pub after: Option<String>,
}

impl PageQuery {
    /// Checks the limit (`default` when absent) and decodes the cursor; either fault is a
    /// `VALIDATION_ERROR`.
    pub fn parse(&self, default: usize) -> Result<Page, ApiError> {
        let limit = match given(&self.limit) {
            None => default,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    ApiError::validation(format!("limit must be 1..={MAX_LIMIT}, got {text:?}"))
                })?,
        };
        let after = given(&self.cursor)
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| ApiError::validation("cursor is not one this API issued".into()))
            })
            .transpose()?;
        Ok(Page { limit, after })
    }
}

/// A query parameter's value, with an empty one taken as absent (`?cursor=`).
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

impl Page {
    /// The page of `items` (sorted by `key`) and the cursor of the next page, if any.
    pub fn of<'a, T>(
        &self,
        items: impl IntoIterator<Item = &'a T>,
        key: impl Fn(&T) -> &str,
    ) -> (Vec<&'a T>, Option<String>)
    where
        T: 'a,
    {
        let mut out = Vec::with_capacity(self.limit.min(64));
        let mut more = false;
        for item in items {
            if self.after.as_deref().is_some_and(|a| key(item) <= a) {
                continue;
            }
            if out.len() == self.limit {
                more = true;
                break;
            }
            out.push(item);
        }
        let next = if more {
            out.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
        } else {
            None
        };
        (out, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_item_once_in_order() {
        let items: Vec<String> = (0..23).map(|i| format!("k{i:03}")).collect();
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let page = PageQuery {
                limit: Some("5".into()),
                cursor: cursor.clone(),
            }
            .parse(100)
            .unwrap();
            let (got, next) = page.of(&items, |s| s.as_str());
            seen.extend(got.into_iter().cloned());
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn bad_limits_and_cursors_are_validation_errors() {
        for (limit, cursor) in [(Some("0"), None), (Some("501"), None), (None, Some("!!"))] {
            let q = PageQuery {
                limit: limit.map(Into::into),
                cursor: cursor.map(Into::into),
            };
            assert_eq!(q.parse(10).unwrap_err().code, "VALIDATION_ERROR");
        }
    }
}

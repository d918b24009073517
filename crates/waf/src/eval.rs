//! The state of one web ACL evaluation: transformed field values computed once per
//! (field, transformations) pair, the labels added so far, and what the last match saw.

use std::borrow::Cow;

use crate::field::{Extracted, FieldToMatch};
use crate::inputs::{self, Input};
use crate::{apply_all, RequestView, Transformation};

/// One evaluation of a web ACL over one request. Made by `WebAcl::evaluate`, dropped with it.
#[derive(Debug)]
pub(crate) struct Evaluation<'s, 'v, 'r> {
    view: &'r RequestView<'v>,
    /// The label prefix of the ACL being evaluated, ending with `:`.
    pub(crate) prefix: &'r str,
    /// Transformed values, one entry per distinct (field, transformations) pair met so far.
    /// Rules hold few distinct pairs, so a linear search beats hashing the field.
    cache: Vec<(&'s FieldToMatch, &'s [Transformation], Extracted<'v>)>,
    /// Every input of the request with its decoded views, for managed rules; made on first use.
    inputs: Option<Vec<Input<'v>>>,
    /// Per view of each input in order, the managed pattern rules that match; made with `inputs`.
    scans: Vec<u64>,
    /// The pattern rules that match any view of any input: the others need not look.
    matched_anywhere: u64,
    /// Fully qualified labels added by rules that matched earlier, without repeats.
    pub(crate) labels: Vec<String>,
    /// The field and an excerpt of the value behind the most recent match.
    pub(crate) hit: Option<(&'static str, String)>,
    /// How many single transformations ran (each step on each value counts one).
    #[cfg(test)]
    pub(crate) transforms_run: usize,
}

/// A statement that does not apply to this request at all: its rule neither matches nor
/// fails to match, whatever `Not` statements surround it (AWS: a forwarded-IP header that is
/// missing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NotApplied;

// === impl Evaluation ===

impl<'s, 'v, 'r> Evaluation<'s, 'v, 'r> {
    pub(crate) fn new(view: &'r RequestView<'v>, prefix: &'r str) -> Self {
        Self {
            view,
            prefix,
            cache: Vec::new(),
            inputs: None,
            scans: Vec::new(),
            matched_anywhere: 0,
            labels: Vec::new(),
            hit: None,
            #[cfg(test)]
            transforms_run: 0,
        }
    }

    /// The request being evaluated.
    pub(crate) fn view(&self) -> &'r RequestView<'v> {
        self.view
    }

    /// Every input of the request, collected, decoded and scanned by the pattern rules once
    /// for all managed rules.
    pub(crate) fn inputs(&mut self) -> (&[Input<'v>], &[u64], u64) {
        if self.inputs.is_none() {
            let collected = inputs::collect_except(self.view, crate::managed::known_clean_header);
            self.scans = crate::managed::scan(&collected);
            crate::managed::learn_clean_headers(&collected, &self.scans);
            self.matched_anywhere = self.scans.iter().fold(0, |all, bits| all | bits);
            self.inputs = Some(collected);
        }
        (self.inputs.as_deref().unwrap_or_default(), &self.scans, self.matched_anywhere)
    }

    /// The values of `field` after `transforms`, computed on first use and then shared.
    pub(crate) fn input(&mut self, field: &'s FieldToMatch, transforms: &'s [Transformation]) -> &Extracted<'v> {
        let found = self.cache.iter().position(|(f, t, _)| *f == field && *t == transforms);
        let index = match found {
            Some(index) => index,
            None => {
                let extracted = match field.extract(self.view) {
                    Extracted::Values(values) => {
                        #[cfg(test)]
                        {
                            self.transforms_run += values.len() * transforms.len();
                        }
                        Extracted::Values(values.into_iter().map(|v| transform(transforms, v)).collect())
                    }
                    forced => forced,
                };
                self.cache.push((field, transforms, extracted));
                self.cache.len() - 1
            }
        };
        match self.cache.get(index) {
            Some((_, _, extracted)) => extracted,
            None => &Extracted::NoMatch,
        }
    }

    /// Inspects `field` after `transforms` with `test`: a match when any value passes (or the
    /// field forces one), remembered in [`Self::hit`].
    pub(crate) fn inspect(
        &mut self,
        field: &'s FieldToMatch,
        transforms: &'s [Transformation],
        test: impl Fn(&[u8]) -> bool,
    ) -> bool {
        let hit = match self.input(field, transforms) {
            Extracted::Values(values) => values.iter().find(|v| test(v)).map(|v| excerpt(v)),
            Extracted::Match(why) => Some(format!("<{why}>")),
            Extracted::NoMatch => None,
        };
        let matched = hit.is_some();
        if let Some(excerpt) = hit {
            self.hit = Some((field.as_str(), excerpt));
        }
        matched
    }
}

// === helpers ===

/// `transforms` over one value, keeping it borrowed from the request when nothing changes.
fn transform<'v>(transforms: &[Transformation], value: Cow<'v, [u8]>) -> Cow<'v, [u8]> {
    match value {
        Cow::Borrowed(bytes) => apply_all(transforms, bytes),
        Cow::Owned(bytes) => Cow::Owned(apply_all(transforms, &bytes).into_owned()),
    }
}

/// At most [`EXCERPT_CHARS`] characters of `value`, non-printable bytes escaped (`\x00`),
/// for logs.
pub(crate) fn excerpt(value: &[u8]) -> String {
    let mut out: String = value.escape_ascii().to_string();
    if out.len() > EXCERPT_CHARS {
        // Escaped output is ASCII, so any byte index is a character boundary.
        out.truncate(EXCERPT_CHARS - 3);
        out.push_str("...");
    }
    out
}

/// The longest value excerpt a verdict carries.
const EXCERPT_CHARS: usize = 64;

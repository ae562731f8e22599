//! Tables shaped like `kubectl get`: upper-case headers, columns three spaces apart, `<none>`
//! for an empty cell, and no trailing spaces.
//!
//! A cell may carry a [`Style`], painted with ANSI escape codes only when colour is on. Whether
//! it is on is the caller's decision, which [`colour_enabled`] makes the way <https://no-color.org>
//! asks: only on a terminal, and never when `NO_COLOR` is set to a non-empty value.

use std::ffi::OsStr;
use std::fmt::Write as _;

use headwind_core::types::Phase;

/// What kubectl prints for an empty cell.
pub const NONE: &str = "<none>";

/// Spaces between two columns, as kubectl's tab writer puts them.
const GAP: usize = 3;

/// A colour for a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Done and well.
    Green,
    /// Waiting for someone.
    Yellow,
    /// Refused or failed.
    Red,
    /// In progress.
    Cyan,
    /// Over, and of little interest.
    Dim,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Self::Green => "32",
            Self::Yellow => "33",
            Self::Red => "31",
            Self::Cyan => "36",
            Self::Dim => "2",
        }
    }

    /// `text` wrapped in this style's escape codes.
    #[must_use]
    pub fn paint(self, text: &str) -> String {
        format!("\x1b[{}m{text}\x1b[0m", self.code())
    }
}

/// The colour of a phase in the PHASE column.
#[must_use]
pub fn phase_style(phase: Phase) -> Style {
    match phase {
        Phase::Pending => Style::Yellow,
        Phase::Approved => Style::Cyan,
        Phase::Completed => Style::Green,
        Phase::Failed | Phase::Rejected => Style::Red,
        Phase::Expired => Style::Dim,
    }
}

/// Whether to colour output: only on a terminal, and not when `NO_COLOR` (the value of the
/// environment variable) is set and non-empty.
#[must_use]
pub fn colour_enabled(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// One cell: its text and, optionally, its colour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    text: String,
    style: Option<Style>,
}

impl Cell {
    /// A plain cell.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            style: None,
        }
    }

    /// A coloured cell.
    #[must_use]
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Self {
            text: text.into(),
            style: Some(style),
        }
    }

    fn shown(&self) -> &str {
        if self.text.is_empty() {
            NONE
        } else {
            &self.text
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

/// A table of rows under headers.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these headers.
    #[must_use]
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<Cell>) {
        row.resize(self.headers.len(), Cell::new(""));

        self.rows.push(row);
    }

    /// Whether the table has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row after the header line, each ending in `\n`.
    #[must_use]
    pub fn render(&self, colour: bool) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.shown().chars().count());
            }
        }

        let mut out = String::new();
        let header: Vec<Cell> = self.headers.iter().map(|h| Cell::new(h.as_str())).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            write_line(&mut out, row, &widths, colour);
        }

        out
    }
}

fn write_line(out: &mut String, row: &[Cell], widths: &[usize], colour: bool) {
    let last = row.len().saturating_sub(1);

    for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
        let text = cell.shown();
        match cell.style {
            Some(style) if colour => out.push_str(&style.paint(text)),
            _ => out.push_str(text),
        }

        // Padding is counted on the plain text, so escape codes never shift a column.
        if i < last {
            let pad = width - text.chars().count() + GAP;
            let _ = write!(out, "{:pad$}", "");
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut table = Table::new(["NAME", "PHASE", "AGE"]);
        table.push(vec![
            "nginx-update-1-26-0".into(),
            Cell::styled("Pending", Style::Yellow),
            "5s".into(),
        ]);
        table.push(vec!["x".into(), Cell::styled("Completed", Style::Green)]);
        table
    }

    #[test]
    fn columns_are_aligned_three_spaces_apart_without_trailing_spaces() {
        let text = sample().render(false);

        assert_eq!(
            text,
            "NAME                  PHASE       AGE\n\
             nginx-update-1-26-0   Pending     5s\n\
             x                     Completed   <none>\n"
        );
    }

    #[test]
    fn colour_wraps_only_styled_cells_and_keeps_alignment() {
        let plain = sample().render(false);
        let coloured = sample().render(true);

        assert!(
            coloured.contains("\x1b[33mPending\x1b[0m     5s"),
            "{coloured}"
        );
        assert!(!plain.contains('\x1b'));
        let stripped = coloured.replace("\x1b[33m", "").replace("\x1b[32m", "");
        assert_eq!(stripped.replace("\x1b[0m", ""), plain);
    }

    #[test]
    fn empty_table_renders_its_header_and_says_it_is_empty() {
        let table = Table::new(["A", "B"]);

        assert!(table.is_empty());
        assert_eq!(table.render(true), "A   B\n");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_enabled(true, None));
        assert!(colour_enabled(true, Some(OsStr::new(""))));
        assert!(!colour_enabled(true, Some(OsStr::new("1"))));
        assert!(!colour_enabled(false, None));
    }

    #[test]
    fn every_phase_has_a_colour_and_decisions_differ_from_waiting() {
        assert_eq!(phase_style(Phase::Pending), Style::Yellow);
        assert_eq!(phase_style(Phase::Completed), Style::Green);
        assert_eq!(phase_style(Phase::Rejected), Style::Red);
        assert_eq!(phase_style(Phase::Failed), Style::Red);
    }
}

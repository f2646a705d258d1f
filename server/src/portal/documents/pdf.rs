//! Lays a billing document out on A4 pages and writes it as a PDF: the seller and the customer,
//! the facts (dates, status), the lines as a table that continues over as many pages as it needs,
//! the totals and the notes on paying. Pure: the same document gives the same bytes.
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::helvetica::{encode, text_width, wrap};

/// Everything a billing document prints, already formatted the way the portal's pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// "Invoice", "Credit note" or "Receipt".
    pub title: String,
    pub number: String,
    pub seller: Vec<String>,
    pub customer: Vec<String>,
    /// Label and value: issued, period, due, status.
    pub facts: Vec<(String, String)>,
    pub lines: Vec<DocumentLine>,
    /// Label and amount; the last is the one to pay and is set in bold.
    pub totals: Vec<(String, String)>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLine {
    pub description: String,
    pub namespace: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const BODY: f32 = 9.5;
const TABLE: f32 = 8.5;
const LEADING: f32 = 1.35;
/// The lowest baseline a table row may use before the table continues on the next page.
const LAST_BASELINE: f32 = MARGIN + 30.0;

/// Where the values of the facts beside the customer's address may start: after their labels.
const FACT_VALUES: f32 = 420.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

const INK: [f32; 3] = [0.11, 0.13, 0.16];
const MUTED: [f32; 3] = [0.36, 0.40, 0.45];
const RULE: [f32; 3] = [0.80, 0.82, 0.85];

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// A column of the lines table: where it starts, how wide it is, how its text aligns.
struct Column {
    header: &'static str,
    left: f32,
    width: f32,
    align: Align,
}

const COLUMNS: [Column; 5] = [
    Column { header: "Description", left: MARGIN, width: 172.0, align: Align::Left },
    Column { header: "Namespace", left: 228.0, width: 70.0, align: Align::Left },
    Column { header: "Quantity", left: 302.0, width: 72.0, align: Align::Right },
    Column { header: "Unit price", left: 380.0, width: 88.0, align: Align::Right },
    Column { header: "Amount", left: 474.0, width: RIGHT - 474.0, align: Align::Right },
];

fn cells(line: &DocumentLine) -> [&str; 5] {
    [&line.description, &line.namespace, &line.quantity, &line.unit_price, &line.amount]
}

/// Pages being written, with the baseline of the next line on the last one.
struct Pages {
    pages: Vec<Content>,
    y: f32,
}

impl Pages {
    fn new() -> Self {
        Self { pages: vec![Content::new()], y: PAGE_HEIGHT - MARGIN }
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a document has a page")
    }

    fn text(&mut self, x: f32, y: f32, font: Name, size: f32, color: [f32; 3], text: &str) {
        let page = self.page();
        page.set_fill_rgb(color[0], color[1], color[2]);
        page.begin_text();
        page.set_font(font, size);
        page.next_line(x, y);
        page.show(Str(&encode(text)));
        page.end_text();
    }

    fn aligned(&mut self, column: (f32, f32, Align), y: f32, font: Name, size: f32, color: [f32; 3], text: &str) {
        let (left, width, align) = column;
        let x = match align {
            Align::Left => left,
            Align::Right => left + width - text_width(text, size),
        };
        self.text(x, y, font, size, color, text);
    }

    fn rule(&mut self, y: f32) {
        let page = self.page();
        page.set_stroke_rgb(RULE[0], RULE[1], RULE[2]);
        page.set_line_width(0.6);
        page.move_to(MARGIN, y);
        page.line_to(RIGHT, y);
        page.stroke();
    }

    fn next_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Lines of one block at `x`, from the current baseline down; the first in bold when asked.
    fn block(&mut self, x: f32, width: f32, lines: &[String], bold_first: bool) -> f32 {
        let mut y = self.y;
        for (i, line) in lines.iter().enumerate() {
            let font = if i == 0 && bold_first { BOLD } else { REGULAR };
            for part in wrap(line, BODY, width) {
                self.text(x, y, font, BODY, INK, &part);
                y -= BODY * LEADING;
            }
        }
        y
    }
}

fn table_header(pages: &mut Pages) {
    let y = pages.y;
    for column in &COLUMNS {
        pages.aligned((column.left, column.width, column.align), y, REGULAR, TABLE, MUTED, column.header);
    }
    pages.rule(y - 5.0);
    pages.y = y - 5.0 - TABLE * LEADING - 2.0;
}

fn table(pages: &mut Pages, lines: &[DocumentLine]) {
    table_header(pages);
    for line in lines {
        let wrapped: Vec<Vec<String>> =
            COLUMNS.iter().zip(cells(line)).map(|(column, text)| wrap(text, TABLE, column.width)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1) as f32 * TABLE * LEADING;
        if pages.y - height < LAST_BASELINE {
            pages.next_page();
            table_header(pages);
        }
        let top = pages.y;
        for (column, parts) in COLUMNS.iter().zip(&wrapped) {
            for (i, part) in parts.iter().enumerate() {
                let y = top - i as f32 * TABLE * LEADING;
                pages.aligned((column.left, column.width, column.align), y, REGULAR, TABLE, INK, part);
            }
        }
        pages.rule(top - height + TABLE * LEADING - 4.0);
        pages.y = top - height - 3.0;
    }
}

fn totals(pages: &mut Pages, totals: &[(String, String)]) {
    let needed = totals.len() as f32 * BODY * LEADING * 1.3;
    if pages.y - needed < LAST_BASELINE {
        pages.next_page();
    }
    pages.y -= 6.0;
    for (i, (label, amount)) in totals.iter().enumerate() {
        let last = i + 1 == totals.len();
        let (font, size) = if last { (BOLD, BODY + 1.5) } else { (REGULAR, BODY) };
        let y = pages.y;
        pages.text(COLUMNS[3].left, y, font, size, INK, label);
        pages.aligned((COLUMNS[4].left - 40.0, COLUMNS[4].width + 40.0, Align::Right), y, font, size, INK, amount);
        pages.y -= size * LEADING * 1.3;
    }
}

fn notes(pages: &mut Pages, notes: &[String]) {
    pages.y -= 10.0;
    for note in notes {
        for part in wrap(note, BODY, RIGHT - MARGIN) {
            if pages.y < LAST_BASELINE {
                pages.next_page();
            }
            let y = pages.y;
            pages.text(MARGIN, y, REGULAR, BODY, MUTED, &part);
            pages.y -= BODY * LEADING;
        }
    }
}

/// The document as PDF bytes.
pub fn render(document: &Document) -> Vec<u8> {
    let mut pages = Pages::new();
    let top = pages.y;
    pages.text(MARGIN, top - 14.0, BOLD, 22.0, INK, &document.title);
    pages.text(MARGIN, top - 32.0, REGULAR, BODY + 1.0, MUTED, &document.number);
    pages.y = top;
    let seller_end = pages.block(COLUMNS[3].left, RIGHT - COLUMNS[3].left, &document.seller, true);

    pages.y = seller_end.min(top - 60.0) - 22.0;
    let blocks_top = pages.y;
    pages.text(MARGIN, blocks_top, REGULAR, TABLE, MUTED, "Bill to");
    pages.y = blocks_top - BODY * LEADING;
    let customer_end = pages.block(MARGIN, COLUMNS[2].left - MARGIN - 20.0, &document.customer, true);
    let mut y = blocks_top;
    let values = (FACT_VALUES, RIGHT - FACT_VALUES, Align::Right);
    for (label, value) in &document.facts {
        pages.text(COLUMNS[3].left, y, REGULAR, TABLE, MUTED, label);
        for part in wrap(value, BODY, values.1) {
            pages.aligned(values, y, REGULAR, BODY, INK, &part);
            y -= BODY * LEADING;
        }
        y -= BODY * 0.3;
    }
    pages.y = customer_end.min(y) - 24.0;

    table(&mut pages, &document.lines);
    totals(&mut pages, &document.totals);
    notes(&mut pages, &document.notes);
    write(document, pages.pages)
}

fn write(document: &Document, mut contents: Vec<Content>) -> Vec<u8> {
    let count = contents.len();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<Ref> = (0..count).map(|i| Ref::new(first_page + 2 * i as i32)).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(count as i32);
    for (font, id) in [(b"Helvetica".as_slice(), regular), (b"Helvetica-Bold".as_slice(), bold)] {
        pdf.type1_font(id).base_font(Name(font)).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = format!("{} {}", document.title, document.number);
    pdf.document_info(info).title(TextStr(&title)).producer(TextStr("Billing portal"));
    for (i, content) in contents.iter_mut().enumerate() {
        let footer = format!("{title} · page {} of {count}", i + 1);
        let width = text_width(&footer, TABLE);
        content.set_fill_rgb(MUTED[0], MUTED[1], MUTED[2]);
        content.begin_text();
        content.set_font(REGULAR, TABLE);
        content.next_line(RIGHT - width, MARGIN - 20.0);
        content.show(Str(&encode(&footer)));
        content.end_text();
    }
    for (content, page_id) in contents.into_iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree).contents(content_id);
        page.resources().fonts().pair(REGULAR, regular).pair(BOLD, bold);
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(lines: usize) -> Document {
        Document {
            title: "Invoice".into(),
            number: "INV-2026-000042".into(),
            seller: vec!["Example Cloud Ltd".into(), "1 Harbour Street".into(), "VAT GB123456789".into()],
            customer: vec!["Acme Corp".into(), "Rue de la Paix 1".into(), "75002 Paris".into(), "France".into()],
            facts: vec![("Issued".into(), "2026-12-01".into()), ("Status".into(), "open".into())],
            lines: (0..lines)
                .map(|i| DocumentLine {
                    description: format!("Actions (tier {})", i % 3 + 1),
                    namespace: "production".into(),
                    quantity: "1,842.5 K actions".into(),
                    unit_price: "$0.25 per 1,000 actions".into(),
                    amount: format!("{i},$460.62"),
                })
                .collect(),
            totals: vec![("Subtotal".into(), "$460.62".into()), ("Amount due".into(), "$460.62".into())],
            notes: vec!["The card on file is charged on the due date.".into()],
        }
    }

    #[test]
    fn the_same_document_gives_the_same_bytes() {
        let pdf = render(&document(5));
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(pdf, render(&document(5)));
        assert_ne!(pdf, render(&document(6)));
    }

    #[test]
    fn a_long_table_continues_on_further_pages_with_every_line() {
        let one = render(&document(3));
        let many = render(&document(200));
        let text = String::from_utf8_lossy(&many);
        assert!(
            String::from_utf8_lossy(&one).contains("/Count 1\n") || String::from_utf8_lossy(&one).contains("/Count 1 ")
        );
        let pages: usize = text
            .split("/Count ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(pages >= 4, "{pages} pages");
        for i in [0, 100, 199] {
            assert!(text.contains(&format!("({i},$460.62)")), "line {i} is printed");
        }
    }
}

//! Bulk import of certificates (CSV and JSON arrays): create, update and leave unchanged by
//! number, dry runs, all-or-nothing validation with every error by row, size limits, who may
//! import, and the audit trail.

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::{Backend, Node, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CERTS: &str = "/api/v1/administrations/CL/certificates";
const IMPORT: &str = "/api/v1/administrations/CL/certificates/import";
const OFFICER: &str = "officer@cl.demo.aeo";
const BORDER: &str = "border@cl.demo.aeo";
const AUDITOR: &str = "auditor@cl.demo.aeo";
const HEADER: &str =
    "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn csv(rows: &[String]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

/// A valid CSV row with an opaque identifier (no check digit to get wrong).
fn bulk_row(number: &str) -> String {
    format!(
        "{number},security,exporter;importer,2025-01-01,2028-01-01,Operador Masivo {number} Sociedad Anónima de Comercio Exterior,CL-TIN:TIN-{number}-ABCDEFGHIJ,\"Avenida Libertador Bernardo O'Higgins 1234, Oficina 567\",Santiago,8320000,CL,false"
    )
}

async fn import(node: &Node, token: &str, query: &str, content_type: &str, body: Vec<u8>) -> Reply {
    node.send_raw(Method::POST, &format!("{IMPORT}{query}"), Some(token), content_type, body, &[]).await
}

async fn import_csv(node: &Node, token: &str, query: &str, rows: &[String]) -> Reply {
    import(node, token, query, "text/csv", csv(rows)).await
}

#[track_caller]
fn assert_counts(reply: &Reply, created: u64, updated: u64, unchanged: u64) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["created"], created, "created: {}", reply.body);
    assert_eq!(reply.body["updated"], updated, "updated: {}", reply.body);
    assert_eq!(reply.body["unchanged"], unchanged, "unchanged: {}", reply.body);
    assert_eq!(reply.body["errors"], json!([]), "{}", reply.body);
}

/// `(row, field)` of every error of an import problem, in the order given.
fn row_errors(reply: &Reply) -> Vec<(u64, String)> {
    reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "every error has a message: {e}");
            (
                e["row"].as_u64().unwrap_or_else(|| panic!("every error has a row: {e}")),
                e["field"].as_str().expect("field").to_owned(),
            )
        })
        .collect()
}

fn cert_path(number: &str) -> String {
    format!("{CERTS}/{number}")
}

async fn fetch(node: &Node, token: &str, number: &str) -> Value {
    node.get(&cert_path(number), Some(token)).await.ok().clone()
}

async fn history_len(node: &Node, token: &str, number: &str) -> usize {
    node.get(&format!("{}/history", cert_path(number)), Some(token)).await.ok().as_array().expect("history").len()
}

/// Every certificate number of CL, walking the list 500 at a time.
async fn all_numbers(node: &Node, token: &str) -> BTreeSet<String> {
    let mut numbers = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("{CERTS}?limit=500&cursor={cursor}"),
            None => format!("{CERTS}?limit=500"),
        };
        let reply = node.get(&path, Some(token)).await;
        let page = reply.ok();
        for item in page["items"].as_array().expect("items") {
            assert!(numbers.insert(item["number"].as_str().expect("number").to_owned()), "listed twice: {item}");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return numbers,
        }
    }
}

async fn audit_entries(node: &Node, action: &str) -> Vec<Value> {
    let auditor = node.token(AUDITOR).await;
    let reply = node.get("/api/v1/administrations/CL/audit?limit=500", Some(&auditor)).await;
    reply
        .ok()
        .get("items")
        .and_then(Value::as_array)
        .expect("items")
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

// Demo rows, written out as CSV exactly as demo/demo.json has them.
const DEMO_0001_MOVED: &str = "CL-OEA-0001,security,exporter;carrier,2024-01-15,2027-01-14,Exportadora Andina SpA,CL-RUT:76086428-5,\"Av. Apoquindo 4501, Of. 1203, Las Condes\",Rancagua,7550000,CL,false";
const DEMO_0002_AS_IS: &str = "CL-OEA-0002,full,manufacturer;exporter,2025-06-08,2028-06-07,Viña Santa Clara del Maipo S.A.,CL-RUT:96404363-9;EORI:NL861990338,Camino a Pirque 2350,Puente Alto,8150000,CL,false";
// CL-OEA-0007 is suspended in the demo; the import changes its city only.
const DEMO_0007_MOVED: &str = "CL-OEA-0007,full,manufacturer;exporter,2024-02-28,2027-02-27,Salmones Patagonia Austral S.A.,CL-RUT:99975043-5;EORI:NL942831054,Av. Diego Portales 860,Puerto Varas,5480000,CL,true";
const NEW_WITH_COMMA: &str = "T-CSV-1,security,exporter;carrier,2025-01-01,2028-01-01,Exportadora CSV Uno SpA,CL-RUT:76.543.210-3;EORI:cl765432103,\"Av. Brasil 1234, Of. 5\",Valparaíso,2340000,CL,true";
const NEW_WITHOUT_NUMBER: &str = ",full,importer,2025-02-01,2028-01-31,Importadora Sin Número Ltda.,CL-TIN:SN-0001,Calle Sin Número 1,Santiago,,CL,false";

// ---------------------------------------------------------------------------------------------
// CSV and JSON imports
// ---------------------------------------------------------------------------------------------

async fn a_csv_import_creates_updates_and_leaves_unchanged_rows_by_number(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before_0007 = fetch(&node, &officer, "CL-OEA-0007").await;
    assert_eq!(before_0007["status"], "suspended");
    let rows =
        [NEW_WITH_COMMA, NEW_WITHOUT_NUMBER, DEMO_0001_MOVED, DEMO_0002_AS_IS, DEMO_0007_MOVED].map(str::to_owned);
    let reply = import_csv(&node, &officer, "", &rows).await;
    assert_counts(&reply, 2, 2, 1);

    let new = fetch(&node, &officer, "T-CSV-1").await;
    assert_eq!(new["status"], "active");
    assert_eq!(new["version"], 1);
    assert_eq!(new["roles"], json!(["exporter", "carrier"]));
    assert_eq!(new["operator"]["address"]["street"], "Av. Brasil 1234, Of. 5");
    assert_eq!(new["operator"]["address"]["city"], "Valparaíso");
    assert_eq!(new["operator"]["public"], true);
    assert_eq!(
        new["operator"]["identifiers"],
        json!([{"scheme": "CL-RUT", "value": "76543210-3"}, {"scheme": "EORI", "value": "CL765432103"}])
    );
    // Findable by name and by identifier.
    let found = node.get(&format!("{CERTS}?q=csv%20uno"), Some(&officer)).await;
    assert_eq!(found.ok()["items"][0]["number"], "T-CSV-1");
    let found = node.get(&format!("{CERTS}?q=765432103"), Some(&officer)).await;
    assert_eq!(found.ok()["items"][0]["number"], "T-CSV-1");
    // The row without a number got one assigned.
    let found = node.get(&format!("{CERTS}?q=sin%20n%C3%BAmero"), Some(&officer)).await;
    let items = found.ok()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(items[0]["number"].as_str().is_some_and(|n| n.starts_with("CL-AEO-")), "{}", items[0]);
    assert_eq!(items[0]["status"], "active");
    assert_eq!(items[0]["operator"]["address"]["postal_code"], "");

    let moved = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(moved["operator"]["address"]["city"], "Rancagua");
    assert_eq!(moved["version"], 2);
    assert_eq!(moved["status"], "active");
    let same = fetch(&node, &officer, "CL-OEA-0002").await;
    assert_eq!(same["version"], 1);
    assert_eq!(history_len(&node, &officer, "CL-OEA-0002").await, 1);
    // An import never changes a status.
    let suspended = fetch(&node, &officer, "CL-OEA-0007").await;
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["status_reason"], before_0007["status_reason"]);
    assert_eq!(suspended["operator"]["address"]["city"], "Puerto Varas");
    assert_eq!(suspended["version"], before_0007["version"].as_i64().expect("version") + 1);

    // The history says who imported what.
    let history = node.get(&format!("{}/history", cert_path("CL-OEA-0001")), Some(&officer)).await;
    let last = history.ok().as_array().expect("history").last().expect("entry").clone();
    assert_eq!(last["actor"], OFFICER);
    assert_eq!(last["changes"]["operator.address.city"], json!({"from": "Santiago", "to": "Rancagua"}));

    // Importing the same file again changes nothing but the row without a number, which is
    // new every time.
    let again = import_csv(&node, &officer, "", &rows).await;
    assert_counts(&again, 1, 0, 4);
}

async fn a_json_array_import_ignores_status_and_other_read_only_fields(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    // Rows copied from GET output, status and version included.
    let mut moved = fetch(&node, &officer, "CL-OEA-0007").await;
    let suspended_reason = moved["status_reason"].clone();
    let suspended_version = moved["version"].clone();
    moved["operator"]["address"]["city"] = json!("Puerto Varas");
    moved["status"] = json!("active");
    moved["status_reason"] = Value::Null;
    moved["version"] = json!(99);
    let mut as_is = fetch(&node, &officer, "CL-OEA-0015").await;
    as_is["status"] = json!("active");
    let as_is_before = fetch(&node, &officer, "CL-OEA-0015").await;
    let new = json!({
        "number": "T-JSON-1",
        "administration": "CL",
        "status": "revoked",
        "status_reason": "no importa",
        "version": 7,
        "updated_at": "2020-01-01T00:00:00Z",
        "category": "full",
        "roles": ["importer"],
        "valid_from": "2025-01-01",
        "valid_until": "2028-01-01",
        "operator": {
            "name": "Importadora JSON Ltda.",
            "identifiers": [{"scheme": "CL-RUT", "value": "77.123.456-9"}],
            "address": {"street": "Calle JSON 1", "city": "Temuco", "postal_code": "4780000", "country": "cl"},
            "public": false
        }
    });
    let body = json!([moved, as_is, new]).to_string().into_bytes();
    let reply = import(&node, &officer, "", "application/json", body).await;
    assert_counts(&reply, 1, 1, 1);

    let after = fetch(&node, &officer, "CL-OEA-0007").await;
    assert_eq!(after["status"], "suspended");
    assert_eq!(after["status_reason"], suspended_reason);
    assert_eq!(after["operator"]["address"]["city"], "Puerto Varas");
    assert_eq!(after["version"], suspended_version.as_i64().expect("version") + 1);
    assert_eq!(fetch(&node, &officer, "CL-OEA-0015").await, as_is_before);
    let created = fetch(&node, &officer, "T-JSON-1").await;
    assert_eq!(created["status"], "active");
    assert!(created["status_reason"].is_null());
    assert_eq!(created["version"], 1);
    assert_eq!(created["administration"], "CL");
    assert_eq!(created["operator"]["address"]["country"], "CL");
    assert_eq!(created["operator"]["identifiers"], json!([{"scheme": "CL-RUT", "value": "77123456-9"}]));

    // A JSON body that is not an array is refused.
    let reply =
        import(&node, &officer, "", "application/json", json!({"number": "T-JSON-2"}).to_string().into_bytes()).await;
    reply.problem(422);
    node.get(&cert_path("T-JSON-2"), Some(&officer)).await.problem(404);
    // An empty array imports nothing.
    let reply = import(&node, &officer, "", "application/json", b"[]".to_vec()).await;
    assert_counts(&reply, 0, 0, 0);
}

async fn a_dry_run_reports_the_same_counts_and_applies_nothing(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let rows = [NEW_WITH_COMMA, DEMO_0001_MOVED, DEMO_0002_AS_IS].map(str::to_owned);
    let before = all_numbers(&node, &officer).await;
    let history_before = history_len(&node, &officer, "CL-OEA-0001").await;
    let audit_before = audit_entries(&node, "certificate.imported").await.len();

    let dry = import_csv(&node, &officer, "?dry_run=true", &rows).await;
    assert_counts(&dry, 1, 1, 1);
    node.get(&cert_path("T-CSV-1"), Some(&officer)).await.problem(404);
    let kept = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(kept["operator"]["address"]["city"], "Santiago");
    assert_eq!(kept["version"], 1);
    assert_eq!(history_len(&node, &officer, "CL-OEA-0001").await, history_before);
    assert_eq!(all_numbers(&node, &officer).await, before);
    assert_eq!(audit_entries(&node, "certificate.imported").await.len(), audit_before);

    // A dry run checks as much as the real thing.
    let bad = [NEW_WITH_COMMA.replace("76.543.210-3", "76.543.210-4")];
    let reply = import_csv(&node, &officer, "?dry_run=true", &bad).await;
    reply.problem(422);
    assert_eq!(row_errors(&reply), vec![(1, "identifiers".to_owned())]);

    // The real run then does what the dry run announced.
    let real = import_csv(&node, &officer, "?dry_run=false", &rows).await;
    assert_counts(&real, 1, 1, 1);
    assert_eq!(fetch(&node, &officer, "T-CSV-1").await["status"], "active");
    assert_eq!(fetch(&node, &officer, "CL-OEA-0001").await["operator"]["address"]["city"], "Rancagua");
}

async fn one_invalid_row_among_hundreds_applies_nothing_and_every_error_is_reported(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before = all_numbers(&node, &officer).await;
    // 200 valid rows (one of them an update of a demo certificate) with three bad ones among
    // them, at rows 101, 152 and 180.
    let mut rows: Vec<String> = (1..=200).map(|i| bulk_row(&format!("T-BULK-{i:03}"))).collect();
    rows[49] = DEMO_0001_MOVED.to_owned();
    rows.insert(100, bulk_row("T-BAD-RUT").replace("CL-TIN:TIN-T-BAD-RUT-ABCDEFGHIJ", "CL-RUT:76.086.428-4"));
    rows.insert(151, bulk_row("T-BAD-DATE").replace(",2025-01-01,", ",2025-13-01,"));
    rows.insert(179, bulk_row("T-BULK-010"));
    assert_eq!(rows.len(), 203);

    let reply = import_csv(&node, &officer, "", &rows).await;
    reply.problem(422);
    assert_eq!(
        row_errors(&reply),
        vec![(101, "identifiers".to_owned()), (152, "valid_from".to_owned()), (180, "number".to_owned()),],
        "{}",
        reply.body
    );
    // Nothing applied: no new certificate, the demo one untouched, no history.
    assert_eq!(all_numbers(&node, &officer).await, before);
    node.get(&cert_path("T-BULK-001"), Some(&officer)).await.problem(404);
    let untouched = fetch(&node, &officer, "CL-OEA-0001").await;
    assert_eq!(untouched["operator"]["address"]["city"], "Santiago");
    assert_eq!(untouched["version"], 1);

    // In a JSON import, rows number from 1 and fields are the certificate's own paths.
    let good = json!({
        "number": "T-JSON-OK", "category": "security", "roles": ["exporter"],
        "valid_from": "2025-01-01", "valid_until": "2028-01-01",
        "operator": {"name": "Buena SpA", "identifiers": [{"scheme": "CL-TIN", "value": "OK"}],
                     "address": {"street": "Calle 1", "city": "Santiago", "country": "CL"}}
    });
    let mut bad = good.clone();
    bad["number"] = json!("T-JSON-BAD");
    bad["operator"]["identifiers"] = json!([{"scheme": "CL-RUT", "value": "76086428-4"}]);
    bad["roles"] = json!(["exporter", "pilot"]);
    let mut wrong_type = good.clone();
    wrong_type["number"] = json!("T-JSON-TYPE");
    wrong_type["roles"] = json!("exporter");
    let body = json!([good, bad, wrong_type]).to_string().into_bytes();
    let reply = import(&node, &officer, "", "application/json", body).await;
    reply.problem(422);
    let errors: BTreeSet<(u64, String)> = row_errors(&reply).into_iter().collect();
    assert_eq!(
        errors,
        BTreeSet::from([
            (2, "roles[1]".to_owned()),
            (2, "operator.identifiers[0].value".to_owned()),
            (3, "roles".to_owned()),
        ]),
        "{}",
        reply.body
    );
    node.get(&cert_path("T-JSON-OK"), Some(&officer)).await.problem(404);
    assert_eq!(all_numbers(&node, &officer).await, before);
}

async fn a_csv_row_with_the_wrong_number_of_columns_is_reported_by_row(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let short = bulk_row("T-SHORT").replacen(",security", "", 1);
    let long = format!("{},extra", bulk_row("T-LONG"));
    let rows = vec![bulk_row("T-COLS-1"), short, bulk_row("T-COLS-3"), long];
    let reply = import_csv(&node, &officer, "", &rows).await;
    reply.problem(422);
    let errors = row_errors(&reply);
    let rows_reported: Vec<u64> = errors.iter().map(|(row, _)| *row).collect();
    assert_eq!(rows_reported, vec![2, 4], "{}", reply.body);
    node.get(&cert_path("T-COLS-1"), Some(&officer)).await.problem(404);
}

async fn a_csv_header_missing_a_column_is_refused_naming_header(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let without_public = HEADER.trim_end_matches(",public");
    let renamed = HEADER.replace("operator_name", "name");
    for header in [without_public.to_owned(), renamed, "a,b,c".to_owned()] {
        let body = format!("{header}\nT-HDR,security,exporter\n").into_bytes();
        let reply = import(&node, &officer, "", "text/csv", body).await;
        reply.problem(422);
        let fields: Vec<String> = reply.fields();
        assert!(fields.contains(&"header".to_owned()), "{header}: {}", reply.body);
    }
    node.get(&cert_path("T-HDR"), Some(&officer)).await.problem(404);
    // Columns may come in any order, so long as all are there.
    let mut columns: Vec<&str> = HEADER.split(',').collect();
    columns.reverse();
    let row: Vec<String> = {
        let mut fields = vec![
            "T-REVERSED",
            "security",
            "exporter",
            "2025-01-01",
            "2028-01-01",
            "Al Revés SpA",
            "CL-TIN:REV",
            "Calle 1",
            "Santiago",
            "",
            "CL",
            "false",
        ];
        fields.reverse();
        fields.into_iter().map(str::to_owned).collect()
    };
    let body = format!("{}\n{}\n", columns.join(","), row.join(",")).into_bytes();
    let reply = import(&node, &officer, "", "text/csv", body).await;
    assert_counts(&reply, 1, 0, 0);
    assert_eq!(fetch(&node, &officer, "T-REVERSED").await["operator"]["name"], "Al Revés SpA");
}

async fn an_empty_csv_imports_nothing(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let before = all_numbers(&node, &officer).await;
    for body in [format!("{HEADER}\n"), HEADER.to_owned(), format!("{HEADER}\r\n")] {
        let reply = import(&node, &officer, "", "text/csv", body.into_bytes()).await;
        assert_counts(&reply, 0, 0, 0);
    }
    let reply = import(&node, &officer, "", "text/csv; charset=utf-8", csv(&[])).await;
    assert_counts(&reply, 0, 0, 0);
    assert_eq!(all_numbers(&node, &officer).await, before);
}

async fn an_import_in_another_media_type_is_415(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    for content_type in ["text/plain", "application/xml", "application/octet-stream"] {
        let reply = import(&node, &officer, "", content_type, csv(&[bulk_row("T-MEDIA")])).await;
        reply.problem(415);
    }
    node.get(&cert_path("T-MEDIA"), Some(&officer)).await.problem(404);
}

async fn public_must_be_true_or_false(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let yes = bulk_row("T-YES").replace(",CL,false", ",CL,yes");
    let rows = vec![bulk_row("T-PUB-1"), yes];
    let reply = import_csv(&node, &officer, "", &rows).await;
    reply.problem(422);
    assert_eq!(row_errors(&reply), vec![(2, "public".to_owned())]);
    node.get(&cert_path("T-PUB-1"), Some(&officer)).await.problem(404);
    // true, TRUE and false are accepted.
    let rows = vec![
        bulk_row("T-PUB-2").replace(",CL,false", ",CL,true"),
        bulk_row("T-PUB-3").replace(",CL,false", ",CL,TRUE"),
        bulk_row("T-PUB-4"),
    ];
    assert_counts(&import_csv(&node, &officer, "", &rows).await, 3, 0, 0);
    assert_eq!(fetch(&node, &officer, "T-PUB-2").await["operator"]["public"], true);
    assert_eq!(fetch(&node, &officer, "T-PUB-3").await["operator"]["public"], true);
    assert_eq!(fetch(&node, &officer, "T-PUB-4").await["operator"]["public"], false);
}

// ---------------------------------------------------------------------------------------------
// Size limits
// ---------------------------------------------------------------------------------------------

async fn a_certificate_body_over_1_mib_is_413(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let body = json!({
        "number": "T-HUGE", "category": "security", "roles": ["exporter"],
        "valid_from": "2025-01-01", "valid_until": "2028-01-01",
        "operator": {"name": "x".repeat(2 * 1024 * 1024), "identifiers": [{"scheme": "CL-TIN", "value": "HUGE"}],
                     "address": {"street": "Calle 1", "city": "Santiago", "country": "CL"}}
    });
    let reply = node
        .send_raw(Method::POST, CERTS, Some(&officer), "application/json", body.to_string().into_bytes(), &[])
        .await;
    reply.problem(413);
    node.get(&cert_path("T-HUGE"), Some(&officer)).await.problem(404);
}

/// About 20 000 rows, 5 MiB, within the import's own timeout (not the 30 s of other requests).
async fn an_import_of_about_5_mib_is_accepted(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let rows: Vec<String> = (1..=20_000).map(|i| bulk_row(&format!("T-MASS-{i:05}"))).collect();
    let body = csv(&rows);
    assert!(body.len() > 4 * 1024 * 1024, "{} bytes", body.len());
    let started = Instant::now();
    let reply = import(&node, &officer, "", "text/csv", body).await;
    assert_counts(&reply, 20_000, 0, 0);
    eprintln!("{backend:?}: imported 20 000 rows in {:?}", started.elapsed());
    assert_eq!(fetch(&node, &officer, "T-MASS-12345").await["status"], "active");
    assert_eq!(all_numbers(&node, &officer).await.len(), 20_000 + 30);
}

async fn an_import_over_64_mib_is_413(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let row = bulk_row("T-OVER");
    let mut body = String::from(HEADER);
    body.push('\n');
    while body.len() <= 64 * 1024 * 1024 + 1024 {
        body.push_str(&row);
        body.push('\n');
    }
    let reply = import(&node, &officer, "", "text/csv", body.into_bytes()).await;
    reply.problem(413);
    node.get(&cert_path("T-OVER"), Some(&officer)).await.problem(404);
}

// ---------------------------------------------------------------------------------------------
// Permissions and audit
// ---------------------------------------------------------------------------------------------

async fn only_customs_roles_may_import(backend: Backend) {
    let node = Node::start(backend).await;
    for email in [BORDER, AUDITOR] {
        let token = node.token(email).await;
        let reply = import_csv(&node, &token, "", &[bulk_row("T-NOPE")]).await;
        reply.problem(403);
        let reply = import_csv(&node, &token, "?dry_run=true", &[bulk_row("T-NOPE")]).await;
        reply.problem(403);
    }
    import_csv(&node, "forged", "", &[bulk_row("T-NOPE")]).await.problem(401);
    let pe_officer = node.token("officer@pe.demo.aeo").await;
    import_csv(&node, &pe_officer, "", &[bulk_row("T-NOPE")]).await.problem(404);
    let officer = node.token(OFFICER).await;
    node.get(&cert_path("T-NOPE"), Some(&officer)).await.problem(404);
    // A customs administrator may.
    let admin = node.token("admin@cl.demo.aeo").await;
    assert_counts(&import_csv(&node, &admin, "", &[bulk_row("T-ADMIN")]).await, 1, 0, 0);
}

async fn an_import_is_recorded_in_the_audit_log_with_its_counts(backend: Backend) {
    let node = Node::start(backend).await;
    let officer = node.token(OFFICER).await;
    let rows = [NEW_WITH_COMMA, DEMO_0001_MOVED, DEMO_0002_AS_IS].map(str::to_owned);
    assert_counts(&import_csv(&node, &officer, "", &rows).await, 1, 1, 1);
    let entries = audit_entries(&node, "certificate.imported").await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = &entries[0];
    assert_eq!(entry["actor"], OFFICER);
    assert_eq!(entry["details"]["created"], 1);
    assert_eq!(entry["details"]["updated"], 1);
    assert_eq!(entry["details"]["unchanged"], 1);
    chrono::DateTime::parse_from_rfc3339(entry["at"].as_str().expect("at")).expect("at");
    assert!(entry["target"].is_string(), "{entry}");
    // A refused import leaves no such entry.
    let bad = [NEW_WITH_COMMA.replace("2025-01-01", "2025-1-1")];
    import_csv(&node, &officer, "", &bad).await.problem(422);
    assert_eq!(audit_entries(&node, "certificate.imported").await.len(), 1);
}

both_backends!(
    a_csv_import_creates_updates_and_leaves_unchanged_rows_by_number,
    a_json_array_import_ignores_status_and_other_read_only_fields,
    a_dry_run_reports_the_same_counts_and_applies_nothing,
    one_invalid_row_among_hundreds_applies_nothing_and_every_error_is_reported,
    a_csv_row_with_the_wrong_number_of_columns_is_reported_by_row,
    a_csv_header_missing_a_column_is_refused_naming_header,
    an_empty_csv_imports_nothing,
    an_import_in_another_media_type_is_415,
    public_must_be_true_or_false,
    a_certificate_body_over_1_mib_is_413,
    an_import_over_64_mib_is_413,
    only_customs_roles_may_import,
    an_import_is_recorded_in_the_audit_log_with_its_counts,
    an_import_of_about_5_mib_is_accepted,
);

/// The SQLite file behind a node.
fn sqlite_file(node: &Node) -> std::path::PathBuf {
    let url = &node.state.settings.database_url;
    let path = url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default();
    std::path::PathBuf::from(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_an_import_reaches_the_database_file_without_a_request_waiting_for_it() {
    // The write-ahead log is checkpointed in the background: the import answers once committed
    // to the log, and its pages reach the database file within seconds all the same.
    let node = Node::start(Backend::Sqlite).await;
    let officer = node.token(OFFICER).await;
    let file = sqlite_file(&node);
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let rows: Vec<String> = (1..=5_000).map(|i| bulk_row(&format!("T-WAL-{i:05}"))).collect();
    assert_counts(&import_csv(&node, &officer, "", &rows).await, 5_000, 0, 0);
    let started = Instant::now();
    while size() < before + 1024 * 1024 {
        assert!(started.elapsed().as_secs() < 10, "the database file stayed at {} bytes (from {before})", size());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(fetch(&node, &officer, "T-WAL-04321").await["status"], "active");
}

//! Rendering STAC: items from index entries, collections, and the fields extension's cut of an
//! item. An item declares only the extensions it fills, with every field each one requires.

use serde_json::{json, Map, Value};

use catalog_index::fields::{Facts, FieldValue, FIELDS};
use catalog_index::{Entry, FileRecord};

use crate::serve::footprint::footprint;

pub const STAC_VERSION: &str = "1.0.0";

/// The extension schemas items may declare, each with a property that tells whether it is
/// filled.
const SAT: &str = "https://stac-extensions.github.io/sat/v1.0.0/schema.json";
const GRID: &str = "https://stac-extensions.github.io/grid/v1.1.0/schema.json";
const PROCESSING: &str = "https://stac-extensions.github.io/processing/v1.1.0/schema.json";
const SAR: &str = "https://stac-extensions.github.io/sar/v1.0.0/schema.json";
const FILE: &str = "https://stac-extensions.github.io/file/v2.1.0/schema.json";
const PRODUCT: &str = "https://stac-extensions.github.io/product/v0.1.0/schema.json";

/// Sentinel-1 carries a C-band SAR at 5.405 GHz.
const SENTINEL_1_BAND: &str = "C";
const SENTINEL_1_FREQUENCY_GHZ: f64 = 5.405;

/// The instruments of each mission's products, as STAC names them: (instrument, mission,
/// product type prefixes; none for every product of the mission).
pub const INSTRUMENTS: &[(&str, &str, &[&str])] = &[
    ("c-sar", "S1", &[]),
    ("msi", "S2", &[]),
    ("olci", "S3", &["OL_", "SY_"]),
    ("slstr", "S3", &["SL_", "SY_"]),
    ("sral", "S3", &["SR_"]),
    ("mwr", "S3", &["MW_"]),
    ("tropomi", "S5P", &[]),
];

/// The instruments whose data a product holds.
fn instruments(mission: &str, product: Option<&str>) -> Vec<&'static str> {
    INSTRUMENTS
        .iter()
        .filter(|(_, of, prefixes)| {
            *of == mission
                && (prefixes.is_empty()
                    || prefixes
                        .iter()
                        .any(|p| product.is_some_and(|t| t.starts_with(p))))
        })
        .map(|(instrument, _, _)| *instrument)
        .collect()
}

/// How STAC spells a value the index holds for `field` (in any case): platforms and
/// constellations as `sentinel-2a`, tiles as grid codes `MGRS-60WWV`, others as they are.
pub fn stac_text(field: &str, value: &str) -> String {
    match field {
        "sat" | "mission" if value.len() > 1 => {
            format!("sentinel-{}", value[1..].to_lowercase())
        }
        "tile" => format!("MGRS-{}", value.trim_start_matches(['T', 't'])),
        _ => value.to_string(),
    }
}

/// The id of an item: its file name, extension included. A directory holds each name once and
/// a product's date directory follows from its name, so ids are unique within a collection
/// even where a product sits beside side-car files of its name (`X.zip`, `X.zip.md5`).
pub fn item_id(entry: &Entry) -> &str {
    &entry.name
}

/// The polarisations of a Sentinel-1 name, from its polarisation code (`DV`: VV and VH).
fn polarizations(name: &str) -> Option<Vec<&'static str>> {
    Some(match name.get(14..16)? {
        "SH" | "HH" => vec!["HH"],
        "SV" | "VV" => vec!["VV"],
        "DH" => vec!["HH", "HV"],
        "DV" => vec!["VV", "VH"],
        "HV" => vec!["HV"],
        "VH" => vec!["VH"],
        _ => return None,
    })
}

fn rfc3339(instant: &time::OffsetDateTime) -> Value {
    catalog_index::time::rfc3339(*instant).map_or(Value::Null, Value::String)
}

/// The STAC item of an indexed product file; `base` is the API's root URL.
pub fn item(entry: &Entry, base: &str) -> Value {
    let product = &entry.product;
    let id = item_id(entry);
    let mut properties = Map::new();
    // Every field the table gives a STAC property, spelled as STAC spells it.
    let record = FileRecord {
        path: entry.path.clone(),
        size: entry.size,
        mtime: entry.mtime.map(|t| t.unix_timestamp()),
        state: entry.state,
    };
    let facts = Facts {
        record: &record,
        name: &entry.name,
        collection: entry.collection.as_deref(),
        product: Some(product),
    };
    for field in FIELDS {
        let (Some(property), Some(value)) = (field.stac_property, field.value(&facts)) else {
            continue;
        };
        let value = match value {
            FieldValue::Text(text) => json!(stac_text(field.name, text)),
            FieldValue::Number(n) => json!(n),
            FieldValue::Date(seconds) => seconds_json(seconds),
        };
        properties.insert(property.to_string(), value);
    }
    if !properties.contains_key("datetime") {
        let mtime = entry.mtime.as_ref().map_or(Value::Null, rfc3339);
        properties.insert("datetime".into(), mtime);
    }
    let mut set = |key: &str, value: Value| {
        properties.insert(key.to_string(), value);
    };
    // A sensing stop makes the sensing start the start of a range.
    if let (Some(start), Some(_)) = (&product.date, &product.end) {
        set("start_datetime", rfc3339(start));
    }
    if let Some(mission) = &product.mission {
        set("mission", json!(stac_text("mission", mission)));
        let instruments = instruments(mission, product.product.as_deref());
        if !instruments.is_empty() {
            set("instruments", json!(instruments));
        }
    }
    let sentinel_1 = product.mission.as_deref() == Some("S1");
    let sar = match (sentinel_1, &product.product, polarizations(&entry.name)) {
        (true, Some(kind), Some(polarizations)) if product.mode.is_some() => {
            set("sar:frequency_band", json!(SENTINEL_1_BAND));
            set("sar:center_frequency", json!(SENTINEL_1_FREQUENCY_GHZ));
            set("sar:polarizations", json!(polarizations));
            set("sar:product_type", json!(kind));
            true
        }
        _ => false,
    };
    // An extension is declared when the item has its fields (sar: all it requires).
    let mut extensions: Vec<&str> = [
        ("sat:", SAT),
        ("grid:", GRID),
        ("processing:", PROCESSING),
        ("product:", PRODUCT),
    ]
    .into_iter()
    .filter(|(prefix, _)| properties.keys().any(|k| k.starts_with(prefix)))
    .map(|(_, schema)| schema)
    .collect();
    if sar {
        extensions.push(SAR);
    }
    let media = match entry.name.rsplit('.').next() {
        Some("zip") => Some("application/zip"),
        Some("nc") => Some("application/x-netcdf"),
        _ => None,
    };
    let mut asset = json!({
        "href": format!("file://{}", entry.path),
        "roles": ["data"],
        "title": entry.name,
    });
    if let Some(media) = media {
        asset["type"] = json!(media);
    }
    if let Some(size) = entry.size {
        extensions.push(FILE);
        asset["file:size"] = json!(size);
    }
    let shape = product.tile.as_deref().and_then(footprint);
    let mut links = vec![json!({"rel": "root", "type": "application/json", "href": base})];
    if let Some(collection) = &entry.collection {
        let collection_url = format!("{base}/collections/{}", encode(collection));
        links.push(json!({"rel": "self", "type": "application/geo+json", "href": format!("{collection_url}/items/{}", encode(id))}));
        links.push(json!({"rel": "parent", "type": "application/json", "href": collection_url}));
        links
            .push(json!({"rel": "collection", "type": "application/json", "href": collection_url}));
    }
    let mut feature = json!({
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": extensions,
        "id": id,
        "geometry": shape.as_ref().map(|f| f.geometry()),
        "properties": properties,
        "assets": {"data": asset},
        "links": links,
    });
    if let Some(shape) = &shape {
        feature["bbox"] = json!(shape.bbox);
    }
    if let Some(collection) = &entry.collection {
        feature["collection"] = json!(collection);
    }
    feature
}

/// A path segment, percent-encoded (collection directories and file names may hold anything).
pub fn encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A collection: its id, its files and the span of their sensing dates.
#[derive(Debug, Clone)]
pub struct CollectionSummary {
    pub id: String,
    pub files: u64,
    pub extent: Option<(i64, i64)>,
}

fn seconds_json(seconds: i64) -> Value {
    catalog_index::time::rfc3339_from_seconds(seconds).map_or(Value::Null, Value::String)
}

/// The STAC collection of an archive collection.
pub fn collection(base: &str, summary: &CollectionSummary) -> Value {
    let id = &summary.id;
    let interval = match summary.extent {
        Some((low, high)) => json!([[seconds_json(low), seconds_json(high)]]),
        None => json!([[null, null]]),
    };
    let url = format!("{base}/collections/{}", encode(id));
    json!({
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": id,
        "title": id,
        "description": format!("The archive collection {id} ({} files)", summary.files),
        "license": "proprietary",
        "catalog:files": summary.files,
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": interval},
        },
        "links": [
            {"rel": "self", "type": "application/json", "href": url},
            {"rel": "root", "type": "application/json", "href": base},
            {"rel": "parent", "type": "application/json", "href": base},
            {"rel": "items", "type": "application/geo+json", "href": format!("{url}/items")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json", "href": format!("{url}/queryables")},
        ],
    })
}

/// The fields extension: which members of an item an answer keeps. Names are top-level
/// members or `properties.NAME`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    /// `None`: the whole item less `exclude`. `Some([])`: the default set less `exclude`.
    /// Otherwise only these (and the item's identity), even if also excluded.
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
}

/// The members of an item, for the fields extension to name.
const MEMBERS: &[&str] = &[
    "type",
    "stac_version",
    "stac_extensions",
    "id",
    "collection",
    "geometry",
    "bbox",
    "properties",
    "assets",
    "links",
];

/// The properties items have beside those of the field table.
const OTHER_PROPERTIES: &[&str] = &[
    "start_datetime",
    "mission",
    "instruments",
    "sar:frequency_band",
    "sar:center_frequency",
    "sar:polarizations",
    "sar:product_type",
];

/// Whether items may have `property`.
fn is_property(property: &str) -> bool {
    OTHER_PROPERTIES.contains(&property) || FIELDS.iter().any(|f| f.stac_property == Some(property))
}

/// What an item always keeps, so that it can be told apart and fetched again.
const IDENTITY: &[&str] = &["type", "stac_version", "id", "collection"];
/// The fields extension's default set.
const DEFAULT_SET: &[&str] = &[
    "type",
    "stac_version",
    "id",
    "collection",
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
];

impl Fields {
    /// Checks that every name is a member of items or `properties.` one of their properties.
    pub fn check(&self) -> Result<(), String> {
        let names = self.include.iter().flatten().chain(&self.exclude);
        for name in names {
            let known = match name.split_once('.') {
                Some(("properties", property)) => is_property(property),
                Some(_) => false,
                None => MEMBERS.contains(&name.as_str()),
            };
            if !known {
                return Err(format!(
                    "unknown fields selector '{name}' (fields takes {} and properties.NAME)",
                    MEMBERS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Cuts `item` to what was asked.
    pub fn apply(&self, item: Value) -> Value {
        let Value::Object(item) = item else {
            return item;
        };
        let kept: Vec<String> = match &self.include {
            None => return remove(Value::Object(item), &self.exclude),
            Some(include) if include.is_empty() => {
                let defaults: Vec<String> = DEFAULT_SET.iter().map(|s| s.to_string()).collect();
                return remove(pick(&item, &defaults), &self.exclude);
            }
            Some(include) => IDENTITY
                .iter()
                .map(|s| s.to_string())
                .chain(include.iter().cloned())
                .collect(),
        };
        // Included wins over excluded, except where an exclusion is narrower than an
        // inclusion (`include: [properties], exclude: [properties.x]`).
        let narrower: Vec<String> = self
            .exclude
            .iter()
            .filter(|e| !kept.contains(e) && kept.iter().any(|k| e.starts_with(&format!("{k}."))))
            .cloned()
            .collect();
        remove(pick(&item, &kept), &narrower)
    }
}

fn pick(item: &Map<String, Value>, names: &[String]) -> Value {
    let mut kept = Map::new();
    for name in names {
        match name.split_once('.') {
            Some((outer, inner)) => {
                if let Some(value) = item.get(outer).and_then(|v| v.get(inner)) {
                    let entry = kept
                        .entry(outer.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(entry) = entry {
                        entry.insert(inner.to_string(), value.clone());
                    }
                }
            }
            None => {
                if let Some(value) = item.get(name) {
                    kept.insert(name.clone(), value.clone());
                }
            }
        }
    }
    Value::Object(kept)
}

fn remove(mut item: Value, names: &[String]) -> Value {
    for name in names {
        match name.split_once('.') {
            Some((outer, inner)) => {
                if let Some(Value::Object(outer)) = item.get_mut(outer) {
                    outer.remove(inner);
                }
            }
            None => {
                if let Value::Object(item) = &mut item {
                    item.remove(name);
                }
            }
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog_index::State;

    fn entry(name: &str) -> Entry {
        Entry::from_record(&FileRecord {
            path: format!("/a/copernicus.eu/c/2023/06/15/{name}"),
            size: Some(1000),
            mtime: Some(1_700_000_000),
            state: Some(State::Tape),
        })
    }

    const NAMES: &[&str] = &[
        "S1A_IW_GRDH_1SDV_20230615T051320_20230615T051345_049000_05E4B1_6A1F.zip",
        "S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.zip",
        "S3A_SY_2_SYN____20230615T095936_20230615T100236_20230616T190209_0179_100_022_2160_PS1_O_NT_002.SEN3",
        "S5P_OFFL_L2__NO2____20230615T104127_20230615T122257_29347_03_020500_20230617T025009.nc",
    ];

    #[test]
    fn items_declare_the_extensions_they_fill() {
        let sar = item(&entry(NAMES[0]), "http://x/stac");
        let properties = &sar["properties"];
        assert_eq!(properties["sar:polarizations"], json!(["VV", "VH"]));
        assert_eq!(properties["sar:frequency_band"], "C");
        assert_eq!(properties["sar:product_type"], "GRD");
        assert_eq!(properties["instruments"], json!(["c-sar"]));
        let declared = |item: &Value, schema: &str| {
            item["stac_extensions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == schema)
        };
        assert!(declared(&sar, SAR) && !declared(&sar, GRID));
        let tile = item(&entry(NAMES[1]), "http://x/stac");
        assert!(declared(&tile, GRID) && !declared(&tile, SAR));
        assert_eq!(tile["properties"]["grid:code"], "MGRS-32TQM");
        assert_eq!(tile["id"], NAMES[1]);
        let synergy = item(&entry(NAMES[2]), "http://x/stac");
        assert_eq!(
            synergy["properties"]["instruments"],
            json!(["olci", "slstr"])
        );
        assert!(synergy["geometry"].is_null() && synergy.get("bbox").is_none());
        // Every property items show can be asked for by the fields extension.
        for name in NAMES {
            let item = item(&entry(name), "http://x/stac");
            for property in item["properties"].as_object().unwrap().keys() {
                assert!(is_property(property), "{property}");
            }
            let links: Vec<&str> = item["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["rel"].as_str().unwrap())
                .collect();
            assert_eq!(links, ["root", "self", "parent", "collection"]);
        }
    }

    #[test]
    fn fields_cut_items_as_the_extension_says() {
        let whole = item(&entry(NAMES[1]), "http://x/stac");
        let fields = |include: Option<&[&str]>, exclude: &[&str]| Fields {
            include: include.map(|i| i.iter().map(|s| s.to_string()).collect()),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        };
        let keys = |v: &Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let cut = fields(None, &["geometry"]).apply(whole.clone());
        assert!(cut.get("geometry").is_none() && cut["properties"]["grid:code"].is_string());
        let cut = fields(Some(&[]), &["geometry"]).apply(whole.clone());
        assert_eq!(keys(&cut["properties"]), ["datetime"]);
        let cut = fields(Some(&["properties.datetime"]), &["properties"]).apply(whole.clone());
        assert_eq!(
            keys(&cut),
            ["collection", "id", "properties", "stac_version", "type"]
        );
        assert_eq!(keys(&cut["properties"]), ["datetime"]);
        let cut = fields(Some(&["geometry"]), &["geometry"]).apply(whole.clone());
        assert!(cut["geometry"].is_object());
        assert!(fields(Some(&["properties.colour"]), &[])
            .check()
            .unwrap_err()
            .contains("colour"));
        assert!(fields(None, &["colour"]).check().is_err());
    }
}

//! Footprints of Sentinel-2 MGRS tiles. A tile's upper-left corner is the upper-left corner of
//! the 100 km MGRS square its code names, and it spans 109.8 km east and south from there
//! (tiles overlap their eastern and southern neighbours).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use geoconvert::{Mgrs, UtmUps};

/// Side of an MGRS square in metres.
const SQUARE_METRES: f64 = 100_000.0;
/// Side of a Sentinel-2 tile in metres.
const TILE_METRES: f64 = 109_800.0;

/// A tile's corners as (longitude, latitude), counter-clockwise from the south-west, and its
/// bounding box `[west, south, east, north]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    /// The closed ring of the polygon.
    pub ring: Vec<[f64; 2]>,
    /// Its bounding box.
    pub bbox: [f64; 4],
}

impl Footprint {
    /// Whether the footprint's box meets `[west, south, east, north]`.
    pub fn meets(&self, bbox: &[f64; 4]) -> bool {
        self.bbox[0] <= bbox[2]
            && bbox[0] <= self.bbox[2]
            && self.bbox[1] <= bbox[3]
            && bbox[1] <= self.bbox[3]
    }

    /// GeoJSON geometry.
    pub fn geometry(&self) -> serde_json::Value {
        serde_json::json!({ "type": "Polygon", "coordinates": [self.ring] })
    }
}

/// The footprint of a tile such as `T60WWV` (or `60WWV`); `None` for what is not an MGRS code.
/// Tiles are computed once and remembered.
pub fn footprint(tile: &str) -> Option<Footprint> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Footprint>>>> = OnceLock::new();
    let code = tile.trim_start_matches(['T', 't']).to_ascii_uppercase();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().expect("footprint cache").get(&code) {
        return found.clone();
    }
    let computed = compute(&code);
    cache
        .lock()
        .expect("footprint cache")
        .insert(code, computed.clone());
    computed
}

fn compute(code: &str) -> Option<Footprint> {
    if code.len() != 5 {
        return None;
    }
    let corner = Mgrs::parse_str(code).ok()?.to_utmups();
    let (zone, north) = (corner.zone(), corner.is_north());
    // A 100 km square's code reads back as the square's centre; the tile hangs from its
    // north-west corner.
    let east = corner.easting() - SQUARE_METRES / 2.0;
    let south = corner.northing() + SQUARE_METRES / 2.0 - TILE_METRES;
    let point = |e: f64, n: f64| -> Option<[f64; 2]> {
        let latlon = UtmUps::create(zone, north, e, n).ok()?.to_latlon();
        Some([latlon.longitude(), latlon.latitude()])
    };
    let ring = vec![
        point(east, south)?,
        point(east + TILE_METRES, south)?,
        point(east + TILE_METRES, south + TILE_METRES)?,
        point(east, south + TILE_METRES)?,
        point(east, south)?,
    ];
    let (mut west, mut south_lat, mut east_lon, mut north_lat) =
        (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for [lon, lat] in &ring {
        west = west.min(*lon);
        east_lon = east_lon.max(*lon);
        south_lat = south_lat.min(*lat);
        north_lat = north_lat.max(*lat);
    }
    Some(Footprint {
        ring,
        bbox: [west, south_lat, east_lon, north_lat],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tiles_land_where_they_should() {
        // T31UDQ holds Paris (2.35 E, 48.86 N); T32TQM holds Rome (12.5 E, 41.9 N);
        // T60WWV lies in Chukotka, around 177-180 E, 67-68 N.
        let paris = footprint("T31UDQ").unwrap();
        assert!(paris.meets(&[2.35, 48.86, 2.35, 48.86]), "{paris:?}");
        let rome = footprint("32TQM").unwrap();
        assert!(rome.meets(&[12.5, 41.9, 12.5, 41.9]), "{rome:?}");
        let chukotka = footprint("T60WWV").unwrap();
        assert!(
            chukotka.bbox[0] > 175.0 && chukotka.bbox[2] <= 180.5,
            "{chukotka:?}"
        );
        assert!(
            chukotka.bbox[1] > 66.0 && chukotka.bbox[3] < 69.0,
            "{chukotka:?}"
        );
        assert!(!chukotka.meets(&[2.0, 48.0, 3.0, 49.0]));
        assert_eq!(chukotka.ring.first(), chukotka.ring.last());
    }

    #[test]
    fn what_is_not_a_tile_has_no_footprint() {
        assert!(footprint("").is_none());
        assert!(footprint("T99XXX").is_none());
        assert!(footprint("nonsense").is_none());
    }
}

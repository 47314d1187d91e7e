//! Footprints of Sentinel-2 MGRS tiles, as `geo` geometries. A tile's upper-left corner is the
//! upper-left corner of the 100 km MGRS square its code names, and it spans 109.8 km east and
//! south from there (tiles overlap their eastern and southern neighbours). A tile that crosses
//! the antimeridian is split there into two polygons, and its bounding box has west > east, as
//! GeoJSON and STAC write such boxes; spatial tests are `geo`'s, on the split geometry.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use geo::{BooleanOps, BoundingRect, Coord, Intersects, MultiPolygon, Polygon, Rect};
use geoconvert::{Mgrs, UtmUps};

/// Side of an MGRS square in metres.
const SQUARE_METRES: f64 = 100_000.0;
/// Side of a Sentinel-2 tile in metres.
const TILE_METRES: f64 = 109_800.0;

/// A tile's outline in longitude and latitude, and its bounding box.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    /// One polygon, or two when the tile crosses the antimeridian.
    pub shape: MultiPolygon<f64>,
    /// `[west, south, east, north]`; west > east when the tile crosses the antimeridian.
    pub bbox: [f64; 4],
}

impl Footprint {
    /// Whether the footprint meets `area` (touching counts).
    pub fn intersects(&self, area: &geo::Geometry<f64>) -> bool {
        self.shape.intersects(area)
    }

    /// The GeoJSON geometry: a Polygon, or a MultiPolygon for a tile split at the antimeridian.
    pub fn geometry(&self) -> serde_json::Value {
        let value = match self.shape.0.as_slice() {
            [one] => geojson::Value::from(one),
            _ => geojson::Value::from(&self.shape),
        };
        serde_json::to_value(geojson::Geometry::new(value)).unwrap_or_default()
    }
}

/// The area of a bounding box `[west, south, east, north]`; a box with west > east crosses the
/// antimeridian and is the two boxes either side of it.
pub fn bbox_area([west, south, east, north]: [f64; 4]) -> geo::Geometry<f64> {
    let rect = |w: f64, e: f64| Rect::new(Coord { x: w, y: south }, Coord { x: e, y: north });
    if west <= east {
        geo::Geometry::Rect(rect(west, east))
    } else {
        geo::Geometry::MultiPolygon(MultiPolygon(vec![
            rect(west, 180.0).to_polygon(),
            rect(-180.0, east).to_polygon(),
        ]))
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
    let point = |e: f64, n: f64| -> Option<Coord<f64>> {
        let latlon = UtmUps::create(zone, north, e, n).ok()?.to_latlon();
        Some(Coord {
            x: latlon.longitude(),
            y: latlon.latitude(),
        })
    };
    let mut ring = vec![
        point(east, south)?,
        point(east + TILE_METRES, south)?,
        point(east + TILE_METRES, south + TILE_METRES)?,
        point(east, south + TILE_METRES)?,
    ];
    let (west_most, east_most) = ring
        .iter()
        .fold((180.0f64, -180.0f64), |(w, e), c| (w.min(c.x), e.max(c.x)));
    // A tile is at most a few degrees wide: corners on both sides of the world mean it
    // crosses the antimeridian. Unwrapped eastwards past 180, it is cut there.
    let crosses = east_most - west_most > 180.0;
    if crosses {
        for c in &mut ring {
            if c.x < 0.0 {
                c.x += 360.0;
            }
        }
    }
    let polygon = Polygon::new(ring.into(), Vec::new());
    let shape = if crosses {
        let (_, south_lat, _, north_lat) = extent(&MultiPolygon(vec![polygon.clone()]));
        let side = |w: f64, e: f64| {
            Rect::new(Coord { x: w, y: south_lat }, Coord { x: e, y: north_lat }).to_polygon()
        };
        let eastern = polygon.intersection(&side(0.0, 180.0));
        let mut western = polygon.intersection(&side(180.0, 360.0));
        geo::MapCoordsInPlace::map_coords_in_place(&mut western, |c| Coord {
            x: c.x - 360.0,
            y: c.y,
        });
        MultiPolygon(eastern.0.into_iter().chain(western.0).collect())
    } else {
        MultiPolygon(vec![polygon])
    };
    let bbox = if crosses {
        let west = shape
            .iter()
            .filter(|p| p.exterior().coords().all(|c| c.x >= 0.0))
            .flat_map(|p| p.exterior().coords().map(|c| c.x))
            .fold(180.0f64, f64::min);
        let east = shape
            .iter()
            .filter(|p| p.exterior().coords().all(|c| c.x <= 0.0))
            .flat_map(|p| p.exterior().coords().map(|c| c.x))
            .fold(-180.0f64, f64::max);
        let (_, south_lat, _, north_lat) = extent(&shape);
        [west, south_lat, east, north_lat]
    } else {
        let (west, south_lat, east, north_lat) = extent(&shape);
        [west, south_lat, east, north_lat]
    };
    Some(Footprint { shape, bbox })
}

/// West, south, east and north of a shape, as plain numbers.
fn extent(shape: &MultiPolygon<f64>) -> (f64, f64, f64, f64) {
    shape.bounding_rect().map_or((0.0, 0.0, 0.0, 0.0), |r| {
        (r.min().x, r.min().y, r.max().x, r.max().y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Point;

    fn box_area(w: f64, s: f64, e: f64, n: f64) -> geo::Geometry<f64> {
        bbox_area([w, s, e, n])
    }

    #[test]
    fn known_tiles_land_where_they_should() {
        // T31UDQ holds Paris (2.35 E, 48.86 N); T32TQM holds Rome (12.5 E, 41.9 N);
        // T60WWV lies in Chukotka, around 177-180 E, 67-68 N.
        let paris = footprint("T31UDQ").unwrap();
        assert!(
            paris.intersects(&Point::new(2.35, 48.86).into()),
            "{paris:?}"
        );
        let rome = footprint("32TQM").unwrap();
        assert!(rome.intersects(&Point::new(12.5, 41.9).into()), "{rome:?}");
        let chukotka = footprint("T60WWV").unwrap();
        assert!(
            chukotka.bbox[0] > 175.0 && chukotka.bbox[2] <= 180.0,
            "{chukotka:?}"
        );
        assert!(
            chukotka.bbox[1] > 66.0 && chukotka.bbox[3] < 69.0,
            "{chukotka:?}"
        );
        assert!(!chukotka.intersects(&box_area(2.0, 48.0, 3.0, 49.0)));
        assert_eq!(chukotka.shape.0.len(), 1);
        assert_eq!(chukotka.geometry()["type"], "Polygon");
    }

    #[test]
    fn a_tile_across_the_antimeridian_is_split_there() {
        // 60TYM, east of 179 E at 41-42 N, reaches past 180 into the western hemisphere.
        let tile = footprint("T60TYM").unwrap();
        let [west, south, east, north] = tile.bbox;
        assert!(west > east, "west {west} > east {east}: {tile:?}");
        assert!(west > 178.0 && west < 180.0, "{tile:?}");
        assert!(east > -180.0 && east < -178.0, "{tile:?}");
        assert!(south > 40.0 && north < 43.0, "{tile:?}");
        assert_eq!(tile.shape.0.len(), 2, "{tile:?}");
        assert_eq!(tile.geometry()["type"], "MultiPolygon");
        // Every coordinate of the split shape lies within the world's longitudes.
        let mut coords = tile.shape.iter().flat_map(|p| p.exterior().coords());
        assert!(coords.all(|c| (-180.0..=180.0).contains(&c.x)));
        // It meets searches on both sides of the antimeridian near it, and none elsewhere at
        // its latitudes (the old whole-world box met them all).
        assert!(tile.intersects(&box_area(179.5, 41.0, 179.9, 42.0)));
        assert!(tile.intersects(&box_area(-179.9, 41.0, -179.5, 42.0)));
        assert!(tile.intersects(&box_area(179.0, 41.0, -179.0, 42.0)));
        assert!(!tile.intersects(&box_area(0.0, 41.0, 1.0, 42.0)));
        assert!(!tile.intersects(&box_area(-100.0, 41.0, 100.0, 42.0)));
    }

    #[test]
    fn a_box_and_the_same_polygon_find_the_same_tiles() {
        let tiles = ["T31UDQ", "T32TQM", "T60WWV", "T60TYM", "T01TCM", "T33UUP"];
        let boxes = [
            [2.0, 48.0, 3.0, 49.0],
            [179.5, 40.0, -179.5, 43.0],
            [-180.0, -90.0, 180.0, 90.0],
            [12.0, 41.0, 13.0, 42.0],
            [170.0, 60.0, 180.0, 70.0],
        ];
        for bbox in boxes {
            let [w, s, e, n] = bbox;
            let polygons: Vec<Polygon<f64>> = if w <= e {
                vec![Rect::new((w, s), (e, n)).to_polygon()]
            } else {
                vec![
                    Rect::new((w, s), (180.0, n)).to_polygon(),
                    Rect::new((-180.0, s), (e, n)).to_polygon(),
                ]
            };
            let polygon = geo::Geometry::MultiPolygon(MultiPolygon(polygons));
            for tile in tiles {
                let footprint = footprint(tile).unwrap();
                assert_eq!(
                    footprint.intersects(&bbox_area(bbox)),
                    footprint.intersects(&polygon),
                    "{tile} {bbox:?}"
                );
            }
        }
    }

    #[test]
    fn what_is_not_a_tile_has_no_footprint() {
        assert!(footprint("").is_none());
        assert!(footprint("T99XXX").is_none());
        assert!(footprint("nonsense").is_none());
    }
}

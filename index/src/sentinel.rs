//! Parsing of Sentinel product names (S1, S2, S3, S5P).
//!
//! Every supported naming convention has fixed-width fields, so a name is checked and cut at
//! byte offsets instead of with a regex: that is both the fastest way over tens of millions of
//! names and the strictest, since each field is validated at exactly the place it must be.
//! Anything after the first `.` (`.zip`, `.SAFE`, `.SEN3.zip`, `.nc`, `.zip.md5`, …) is
//! ignored, so a product and its side-car files parse alike; which of them to keep is the
//! caller's business.
//!
//! Conventions, as published by ESA / Copernicus:
//!
//! * S1 (Sentinel-1 Product Specification, SentiWiki "S1 Products"):
//!   `MMM_BB_TTTR_LFPP_<start>_<stop>_OOOOOO_DDDDDD_CCCC`, optionally followed by `_COG`
//!   for the cloud-optimised GRD products of the Copernicus Data Space.
//! * S2 (Sentinel-2 Products Specification Document), compact naming since December 2016:
//!   `MMM_MSIXXX_<datatake start>_Nxxyy_ROOO_Txxxxx_<discriminator>`, and the original
//!   2015–2016 naming: `MMM_CCCC_PRD_MSIXXX_ssss_<creation>_ROOO_V<start>_<stop>`.
//! * S3 (Sentinel-3 Product Data Format Specification):
//!   `MMM_DD_L_TTTTTT_<start>_<stop>_<creation>_<instance id>_GGG_P_XX_NNN`.
//! * S5P (Sentinel-5P Input/Output Data Definition):
//!   `S5P_SSSS_TTTTTTTTTT_<start>_<stop>_OOOOO_CC_PPPPPP_<production>`.
//!
//! Timestamps are `YYYYMMDDTHHMMSS`, in UTC.

use serde::Serialize;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Fields parsed from a Sentinel product name.
///
/// A field is `None` when the name's convention does not carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Mission: `S1`, `S2`, `S3` or `S5P`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mission: Option<String>,
    /// Satellite: `S1A`…`S1D`, `S2A`…`S2C`, `S3A`, `S3B` or `S5P`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sat: Option<String>,
    /// Product type: for S1 without its resolution letter (`GRD`, `SLC`, `RAW`, `OCN`), for S2
    /// `MSIL1C`/`MSIL2A`, for S3 and S5P the type with its `_` padding removed (`OL_1_EFR`,
    /// `L2__NO2`, `L1B_RA_BD1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Processing level: S1 `L0`/`L1`/`L2`, S2 `L1C`/`L2A`, S3 `L0`/`L1`/`L2`, S5P `L1B`/`L2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// S1 beam mode: `IW`, `EW`, `WV` or `SM` (stripmap, whatever its swath `S1`…`S6`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// S2 MGRS tile, e.g. `T31NFF`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile: Option<String>,
    /// Relative orbit (track): read from S2 and S3 names, computed from the absolute orbit for S1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orbit: Option<u64>,
    /// Absolute orbit, for S1 and S5P.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absorbit: Option<u64>,
    /// S2 processing baseline, e.g. `N0204`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Sensing start; for S2 the datatake sensing start.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "time::serde::rfc3339::option::serialize"
    )]
    pub date: Option<OffsetDateTime>,
    /// Sensing stop, where the name has one (S1, S3, S5P and original-format S2).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "time::serde::rfc3339::option::serialize"
    )]
    pub end: Option<OffsetDateTime>,
}

/// Parses a product file or directory name (a path's last component), with or without an
/// extension such as `.zip`, `.SAFE`, `.SEN3`, `.nc`, `.tar` or `.zip.md5`.
///
/// Returns `None` for names that are not Sentinel products, including names that look like
/// one but break the convention anywhere: no field is ever guessed.
pub fn parse_name(name: &str) -> Option<Product> {
    let stem = name.split_once('.').map_or(name, |(stem, _)| stem);
    // With ASCII only, every byte offset below is a char boundary, so slicing cannot panic.
    if !stem.is_ascii() {
        return None;
    }
    match stem.as_bytes().get(..4)? {
        b"S1A_" | b"S1B_" | b"S1C_" | b"S1D_" => parse_s1(stem),
        b"S2A_" | b"S2B_" | b"S2C_" => parse_s2(stem),
        b"S3A_" | b"S3B_" => parse_s3(stem),
        b"S5P_" => parse_s5p(stem),
        _ => None,
    }
}

/// `MMM_BB_TTTR_LFPP_<start>_<stop>_OOOOOO_DDDDDD_CCCC[_COG]`: beam mode, type and resolution,
/// level, class and polarisation, absolute orbit, datatake id and product checksum.
fn parse_s1(s: &str) -> Option<Product> {
    let s = s.strip_suffix("_COG").unwrap_or(s);
    let b = s.as_bytes();
    if b.len() != 67 || !underscores(b, &[3, 6, 11, 16, 32, 48, 55, 62]) {
        return None;
    }
    let mode = match &b[4..6] {
        b"IW" | b"EW" | b"WV" => &s[4..6],
        [b'S', b'1'..=b'6'] => "SM",
        _ => return None,
    };
    let product = match (&b[7..10], b[10]) {
        (b"GRD", b'F' | b'H' | b'M') | (b"SLC" | b"RAW" | b"OCN", b'_') => &s[7..10],
        _ => return None,
    };
    let level = match b[12] {
        b'0' => "L0",
        b'1' => "L1",
        b'2' => "L2",
        _ => return None,
    };
    // Class: standard, annotation, calibration or noise; then the polarisation pair.
    let class_ok = matches!(b[13], b'S' | b'A' | b'C' | b'N');
    let polarisation_ok = matches!(
        &b[14..16],
        b"SH" | b"SV" | b"DH" | b"DV" | b"HH" | b"HV" | b"VV" | b"VH"
    );
    if !class_ok
        || !polarisation_ok
        || !all(&b[56..62], is_upper_hex)
        || !all(&b[63..67], is_upper_hex)
    {
        return None;
    }
    let date = timestamp(&b[17..32])?;
    let end = timestamp(&b[33..48])?;
    let absorbit = number(&b[49..55])?;
    Some(Product {
        mission: Some(s[..2].to_owned()),
        sat: Some(s[..3].to_owned()),
        product: Some(product.to_owned()),
        level: Some(level.to_owned()),
        mode: Some(mode.to_owned()),
        orbit: s1_relative_orbit(&b[..3], absorbit),
        absorbit: Some(absorbit),
        date: Some(date),
        end: Some(end),
        ..Product::default()
    })
}

/// Absolute orbit of the last S1C product before its June 2026 orbit manoeuvre, which changed
/// the phase of its relative orbits (see [`s1_relative_orbit`]).
const S1C_LAST_ORBIT_BEFORE_MANOEUVRE: u64 = 8018;

/// Relative orbit of an S1 satellite: `((absolute - offset) mod 175) + 1`, 175 orbits being
/// one 12-day repeat cycle.
///
/// Offsets: S1A 73 and S1B 27 from the ESA Mission Performance Centre
/// (<https://forum.step.esa.int/t/sentinel-1-relative-orbit-from-filename/7042>, also on
/// <https://sentiwiki.copernicus.eu/web/s1-products>); S1C 172 on SentiWiki. The June 2026
/// orbital reconfiguration
/// (<https://dataspace.copernicus.eu/news/2026-5-28-sentinel-1-orbital-reconfiguration-dates>)
/// moved S1C to offset 99 and S1D uses 42, as presented at FRINGE 2026 and applied in
/// isce2 (<https://github.com/isce-framework/isce2/pull/28130>, `/pull/28123`).
fn s1_relative_orbit(sat: &[u8], absorbit: u64) -> Option<u64> {
    const CYCLE: u64 = 175;
    let offset = match sat {
        b"S1A" => 73,
        b"S1B" => 27,
        b"S1C" if absorbit <= S1C_LAST_ORBIT_BEFORE_MANOEUVRE => 172,
        b"S1C" => 99,
        b"S1D" => 42,
        _ => return None,
    };
    // Adding a whole cycle keeps the difference non-negative, i.e. a Euclidean modulo.
    Some((absorbit + CYCLE - offset) % CYCLE + 1)
}

/// Dispatches on length, which tells the two S2 conventions apart.
fn parse_s2(s: &str) -> Option<Product> {
    match s.len() {
        60 => parse_s2_compact(s),
        78 => parse_s2_original(s),
        _ => None,
    }
}

/// `MMM_MSIXXX_<datatake start>_Nxxyy_ROOO_Txxxxx_<discriminator>`.
fn parse_s2_compact(s: &str) -> Option<Product> {
    let b = s.as_bytes();
    if !underscores(b, &[3, 10, 26, 32, 37, 44]) || !is_s2_msi_type(&b[4..10]) {
        return None;
    }
    let baseline_ok = b[27] == b'N' && all(&b[28..32], is_digit);
    let tile_ok = b[38] == b'T' && all(&b[39..41], is_digit) && all(&b[41..44], is_upper);
    if !baseline_ok || !tile_ok || b[33] != b'R' {
        return None;
    }
    let orbit = number(&b[34..37])?;
    let date = timestamp(&b[11..26])?;
    timestamp(&b[45..60])?;
    Some(Product {
        mission: Some(s[..2].to_owned()),
        sat: Some(s[..3].to_owned()),
        product: Some(s[4..10].to_owned()),
        level: Some(s[7..10].to_owned()),
        tile: Some(s[38..44].to_owned()),
        orbit: Some(orbit),
        baseline: Some(s[27..32].to_owned()),
        date: Some(date),
        ..Product::default()
    })
}

/// `MMM_CCCC_PRD_MSIXXX_ssss_<creation>_ROOO_V<start>_<stop>`, used until December 2016.
/// `USER` is the file class of L2A products made by users with Sen2Cor.
fn parse_s2_original(s: &str) -> Option<Product> {
    let b = s.as_bytes();
    if !underscores(b, &[3, 8, 12, 19, 24, 40, 45, 62])
        || !matches!(&b[4..8], b"OPER" | b"USER")
        || &b[9..12] != b"PRD"
        || !is_s2_msi_type(&b[13..19])
        || !all(&b[20..24], |c| is_upper_alnum(c) || c == b'_')
        || b[41] != b'R'
        || b[46] != b'V'
    {
        return None;
    }
    timestamp(&b[25..40])?;
    let orbit = number(&b[42..45])?;
    let date = timestamp(&b[47..62])?;
    let end = timestamp(&b[63..78])?;
    Some(Product {
        mission: Some(s[..2].to_owned()),
        sat: Some(s[..3].to_owned()),
        product: Some(s[13..19].to_owned()),
        level: Some(s[16..19].to_owned()),
        orbit: Some(orbit),
        date: Some(date),
        end: Some(end),
        ..Product::default()
    })
}

/// Whether a field is one of the S2 MSI product types `MSIL1C` and `MSIL2A`.
fn is_s2_msi_type(field: &[u8]) -> bool {
    matches!(field, b"MSIL1C" | b"MSIL2A")
}

/// `MMM_DD_L_TTTTTT_<start>_<stop>_<creation>_<instance id>_GGG_P_XX_NNN`: instrument, level
/// and type, a 17-character instance id, then centre, platform, timeliness and baseline.
fn parse_s3(s: &str) -> Option<Product> {
    let b = s.as_bytes();
    if b.len() != 94 || !underscores(b, &[3, 6, 8, 15, 31, 47, 63, 81, 85, 87, 90]) {
        return None;
    }
    // OLCI, SLSTR, SRAL, synergy and the microwave radiometer: the instruments whose products
    // are distributed.
    if !matches!(&b[4..6], b"OL" | b"SL" | b"SR" | b"SY" | b"MW") {
        return None;
    }
    let level = match b[7] {
        b'0' => "L0",
        b'1' => "L1",
        b'2' => "L2",
        _ => return None,
    };
    let upper_alnum_or_pad = |c| is_upper_alnum(c) || c == b'_';
    // Types may hold an inner `_` (`SR_1_SRA_A_`, `SR_2_LAN_HY`), so only the start is pinned.
    if !is_upper_alnum(b[9])
        || !all(&b[10..15], upper_alnum_or_pad)
        || !all(&b[64..81], upper_alnum_or_pad)
        || !all(&b[82..85], is_upper_alnum)
        || !is_upper(b[86])
        || !all(&b[88..90], is_upper)
        || !all(&b[91..94], upper_alnum_or_pad)
    {
        return None;
    }
    let date = timestamp(&b[16..31])?;
    let end = timestamp(&b[32..47])?;
    timestamp(&b[48..63])?;
    Some(Product {
        mission: Some(s[..2].to_owned()),
        sat: Some(s[..3].to_owned()),
        product: Some(s[4..15].trim_end_matches('_').to_owned()),
        level: Some(level.to_owned()),
        orbit: s3_relative_orbit(&b[64..81]),
        date: Some(date),
        end: Some(end),
        ..Product::default()
    })
}

/// The relative orbit in an S3 instance id. Stripes and frames have `DDDD_CCC_LLL_____` or
/// `DDDD_CCC_LLL_FFFF` (duration, cycle, relative orbit, frame); tiled and global products
/// carry a region name instead (`EUROPE___________`) and so no orbit.
fn s3_relative_orbit(id: &[u8]) -> Option<u64> {
    let stripe =
        all(&id[..4], is_digit) && all(&id[5..8], is_digit) && underscores(id, &[4, 8, 12]);
    if stripe {
        number(&id[9..12])
    } else {
        None
    }
}

/// `S5P_SSSS_TTTTTTTTTT_<start>_<stop>_OOOOO_CC_PPPPPP_<production>`: processing stream,
/// product type, absolute orbit, collection and processor version.
fn parse_s5p(s: &str) -> Option<Product> {
    let b = s.as_bytes();
    if b.len() != 83 || !underscores(b, &[3, 8, 19, 35, 51, 57, 60, 67]) {
        return None;
    }
    // PAL_ is the Product Algorithm Laboratory, which publishes pre-operational products.
    if !matches!(&b[4..8], b"OFFL" | b"NRTI" | b"RPRO" | b"PAL_") {
        return None;
    }
    let level = match &b[9..13] {
        b"L1B_" => "L1B",
        b"L2__" => "L2",
        _ => return None,
    };
    if !is_upper_alnum(b[13])
        || !all(&b[14..19], |c| is_upper_alnum(c) || c == b'_')
        || !all(&b[58..60], is_digit)
        || !all(&b[61..67], is_digit)
    {
        return None;
    }
    let date = timestamp(&b[20..35])?;
    let end = timestamp(&b[36..51])?;
    let absorbit = number(&b[52..57])?;
    timestamp(&b[68..83])?;
    Some(Product {
        mission: Some(s[..3].to_owned()),
        sat: Some(s[..3].to_owned()),
        product: Some(s[9..19].trim_end_matches('_').to_owned()),
        level: Some(level.to_owned()),
        absorbit: Some(absorbit),
        date: Some(date),
        end: Some(end),
        ..Product::default()
    })
}

/// Whether `b` has `_` at each of the offsets `at` (all within `b`).
fn underscores(b: &[u8], at: &[usize]) -> bool {
    at.iter().all(|&i| b[i] == b'_')
}

/// Whether every byte of `field` satisfies `pred`.
fn all(field: &[u8], pred: impl Fn(u8) -> bool) -> bool {
    field.iter().all(|&c| pred(c))
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

fn is_upper(c: u8) -> bool {
    c.is_ascii_uppercase()
}

fn is_upper_alnum(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

fn is_upper_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'A'..=b'F').contains(&c)
}

/// The value of a field of decimal digits; the fields are at most 6 digits, so it cannot
/// overflow.
fn number(field: &[u8]) -> Option<u64> {
    field
        .iter()
        .try_fold(0, |n, &c| is_digit(c).then(|| n * 10 + u64::from(c - b'0')))
}

/// A `YYYYMMDDTHHMMSS` UTC timestamp; `None` unless it is a real date and time.
fn timestamp(field: &[u8]) -> Option<OffsetDateTime> {
    if field.len() != 15 || field[8] != b'T' {
        return None;
    }
    let two = |i: usize| number(&field[i..i + 2]).and_then(|n| u8::try_from(n).ok());
    let year = i32::try_from(number(&field[..4])?).ok()?;
    let month = Month::try_from(two(4)?).ok()?;
    let date = Date::from_calendar_date(year, month, two(6)?).ok()?;
    let time = Time::from_hms(two(9)?, two(11)?, two(13)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Real product names, one or more per mission, type and naming convention.
    const REAL: &[&str] = &[
        "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip",
        "S1A_IW_GRDH_1SDH_20160803T170701_20160803T170731_012439_0136C6_907F.zip",
        "S1A_IW_GRDH_1SDV_20170909T175748_20170909T175813_018302_01EC88_98A1",
        "S1B_IW_GRDH_1SDV_20170903T175659_20170903T175724_007231_00CBEF_874B",
        "S1A_EW_GRDM_1SDH_20200107T033938_20200107T034038_030689_038489_92D9.zip",
        "S1A_EW_GRDM_1SDH_20240215T195548_20240215T195633_052574_065C0C_17E5_COG.SAFE",
        "S1A_S3_GRDF_1SDV_20140911T052447_20140911T052515_002340_00279F_9D0D.zip",
        "S1B_S1_GRDH_1SDH_20210101T152652_20210101T152706_024962_02F890_39B4.zip",
        "S1A_WV_OCN__2SSV_20190518T160559_20190518T161434_027284_0313A0_46F2.SAFE",
        "S1A_IW_RAW__0SDV_20220115T130440_20220115T130513_041472_04EE76_AB32.SAFE",
        "S1B_IW_RAW__0SDV_20190107T171737_20190107T171810_014391_01AC8B_78F4.zip",
        "S1A_S6_RAW__0SDV_20150115T023540_20150115T023613_004176_005112_1169",
        "S1C_IW_SLC__1SDV_20250331T060116_20250331T060143_001681_002CD0_8D44",
        "S1C_WV_SLC__1SSV_20250328T085056_20250328T085537_001639_002A31_AE2A",
        "S1A_IW_SLC__1SDV_20260623T225050_20260623T225120_065103_0834C8_BAD5.SAFE",
        "S1C_IW_SLC__1SDV_20260624T224958_20260624T225025_008254_010515_304A.SAFE",
        "S1D_IW_GRDH_1SDV_20260828T122116_20260828T122141_004326_007FA4_C523.SAFE.zip",
        "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip",
        "S2A_MSIL1C_20170205T105221_N0204_R051_T31TCF_20170205T105426",
        "S2B_MSIL2A_20200820T103629_N0214_R008_T31TGM_20200820T133254.SAFE",
        "S2C_MSIL2A_20250527T191931_N0511_R099_T10VFL_20250528T002013.zip",
        "S2A_OPER_PRD_MSIL1C_PDMC_20151230T202002_R008_V20151230T105153_20151230T105153.SAFE",
        "S2A_USER_PRD_MSIL2A_PDMC_20160614T005258_R094_V20160613T110559_20160613T110559.SAFE",
        "S3A_OL_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002.SEN3",
        "S3A_OL_1_ERR____20201210T094858_20201210T103307_20201210T115918_2649_066_079______LN1_O_NR_002.SEN3",
        "S3B_OL_2_WFR____20220703T075301_20220703T075601_20220704T171729_0179_067_363_2160_MAR_O_NT_003.SEN3.zip",
        "S3A_OL_2_WFR____20180715T110812_20180715T111112_20211121T193318_0180_033_251______MAR_R_NT_003.SEN3",
        "S3A_SL_1_RBT____20210827T074336_20210827T074636_20210827T094954_0179_075_320_3060_LN2_O_NR_004",
        "S3B_SL_2_LST____20200818T100722_20200818T101022_20200819T161150_0179_042_236_2160_LN2_O_NT_004.SEN3",
        "S3A_SL_2_WST____20130621T101013_20130621T101053_20140613T135758_0039_009_022______MAR_O_NR____.SEN3",
        "S3A_SR_1_SRA____20170401T004834_20170401T013904_20170426T154541_3029_016_088______MAR_O_NT_002.SEN3",
        "S3A_SR_2_LAN____20180419T102520_20180419T111512_20180514T220143_2991_030_165______LN3_O_NT_003.SEN3",
        "S3A_SR_2_LAN_HY_20241020T203045_20241020T203859_20241116T003153_0494_118_171______PS1_O_NT_005.SEN3",
        "S3A_SR_2_WAT____20190326T011836_20190326T020243_20190420T170416_2647_043_017______MAR_O_NT_003.SEN3",
        "S3A_SY_2_SYN____20190202T004600_20190202T004900_20190203T142947_0179_041_045_2700_LN2_O_NT_002.SEN3",
        "S3B_SY_2_VGP____20210213T192726_20210213T201112_20210215T060438_2626_049_099______LN2_O_NT_002.SEN3",
        "S3A_SY_2_V10____20210911T000000_20210920T235959_20210928T121452_EUROPE____________LN2_O_NT_002.SEN3",
        "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc",
        "S5P_OFFL_L1B_RA_BD8_20180630T181331_20180630T195501_03694_01_010000_20180630T214541.nc",
        "S5P_OFFL_L1B_IR_UVN_20190807T034230_20190807T052359_09403_01_010000_20190807T070824.nc",
        "S5P_NRTI_L2__CO_____20230801T230402_20230801T230902_30057_03_020500_20230802T000504.nc",
        "S5P_NRTI_L2__SO2____20250705T064145_20250705T064645_40035_03_020701_20250705T071829.nc",
        "S5P_RPRO_L2__CH4____20220701T024730_20220701T042859_24427_03_020400_20230131T104028.nc",
        "S5P_OFFL_L2__AER_AI_20200129T053326_20200129T071456_11887_01_010302_20200201T072459.nc",
        "S5P_OFFL_L2__O3__PR_20211231T010540_20211231T024709_21844_02_020301_20220101T165013.nc",
        "S5P_OFFL_L2__CLOUD__20191222T040256_20191222T054426_11347_01_010107_20191223T174903.nc",
        "S5P_OFFL_L2__HCHO___20230608T193244_20230608T211414_29289_03_020401_20230610T184103.nc",
        "S5P_OFFL_L2__NP_BD6_20211222T090116_20211222T104246_21721_02_010300_20211223T224704",
        "S5P_PAL__L2__NO2____20210101T031206_20210101T045336_16681_01_020301_20211112T015828.nc",
    ];

    fn parse(name: &str) -> Product {
        parse_name(name).unwrap_or_else(|| panic!("{name} should parse"))
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn every_real_name_parses() {
        for name in REAL {
            let p = parse(name);
            assert!(
                p.mission.is_some() && p.sat.is_some() && p.product.is_some(),
                "{name}"
            );
            assert!(p.level.is_some() && p.date.is_some(), "{name}");
        }
    }

    #[test]
    fn s1_grd() {
        let p = parse("S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip");
        assert_eq!(
            p,
            Product {
                mission: some("S1"),
                sat: some("S1A"),
                product: some("GRD"),
                level: some("L1"),
                mode: some("IW"),
                tile: None,
                orbit: Some(73),
                absorbit: Some(41270),
                baseline: None,
                date: Some(datetime!(2022-01-01 05:20:08 UTC)),
                end: Some(datetime!(2022-01-01 05:20:33 UTC)),
            }
        );
        let p = parse("S1A_EW_GRDM_1SDH_20200107T033938_20200107T034038_030689_038489_92D9.zip");
        assert_eq!((p.product, p.mode), (some("GRD"), some("EW")));
        let p = parse("S1A_S3_GRDF_1SDV_20140911T052447_20140911T052515_002340_00279F_9D0D.zip");
        assert_eq!((p.product, p.mode), (some("GRD"), some("SM")));
        let p =
            parse("S1A_EW_GRDM_1SDH_20240215T195548_20240215T195633_052574_065C0C_17E5_COG.SAFE");
        assert_eq!((p.product, p.absorbit), (some("GRD"), Some(52574)));
    }

    #[test]
    fn s1_types_levels_and_modes() {
        let p = parse("S1A_WV_OCN__2SSV_20190518T160559_20190518T161434_027284_0313A0_46F2.SAFE");
        assert_eq!(
            (p.product, p.level, p.mode),
            (some("OCN"), some("L2"), some("WV"))
        );
        let p = parse("S1A_IW_RAW__0SDV_20220115T130440_20220115T130513_041472_04EE76_AB32.SAFE");
        assert_eq!(
            (p.product, p.level, p.mode),
            (some("RAW"), some("L0"), some("IW"))
        );
        let p = parse("S1A_S6_RAW__0SDV_20150115T023540_20150115T023613_004176_005112_1169");
        assert_eq!(
            (p.product, p.level, p.mode),
            (some("RAW"), some("L0"), some("SM"))
        );
        let p = parse("S1B_S1_GRDH_1SDH_20210101T152652_20210101T152706_024962_02F890_39B4.zip");
        assert_eq!((p.sat, p.mode), (some("S1B"), some("SM")));
        let p = parse("S1C_WV_SLC__1SSV_20250328T085056_20250328T085537_001639_002A31_AE2A");
        assert_eq!(
            (p.product, p.level, p.mode),
            (some("SLC"), some("L1"), some("WV"))
        );
    }

    #[test]
    fn s1_relative_orbits() {
        // Known tracks: 30 for both (STEP forum thread), 106 for the S1A/S1C pair on either side
        // of S1C's 2026 manoeuvre, 110 for the first S1C products (sentineleof's test).
        let orbit = |name| parse(name).orbit;
        let s1a = "S1A_IW_GRDH_1SDV_20170909T175748_20170909T175813_018302_01EC88_98A1";
        let s1b = "S1B_IW_GRDH_1SDV_20170903T175659_20170903T175724_007231_00CBEF_874B";
        assert_eq!((orbit(s1a), orbit(s1b)), (Some(30), Some(30)));
        let s1a = "S1A_IW_SLC__1SDV_20260623T225050_20260623T225120_065103_0834C8_BAD5.SAFE";
        let s1c = "S1C_IW_SLC__1SDV_20260624T224958_20260624T225025_008254_010515_304A.SAFE";
        assert_eq!((orbit(s1a), orbit(s1c)), (Some(106), Some(106)));
        let s1c = "S1C_IW_SLC__1SDV_20250331T060116_20250331T060143_001681_002CD0_8D44";
        assert_eq!(orbit(s1c), Some(110));
        let s1d = "S1D_IW_GRDH_1SDV_20260828T122116_20260828T122141_004326_007FA4_C523.SAFE.zip";
        assert_eq!(orbit(s1d), Some(85));
        // The manoeuvre boundary, and absolute orbits below the offset (Euclidean modulo).
        assert_eq!(s1_relative_orbit(b"S1C", 8018), Some(147));
        assert_eq!(s1_relative_orbit(b"S1C", 8019), Some(46));
        assert_eq!(s1_relative_orbit(b"S1A", 1), Some(104));
        assert_eq!(s1_relative_orbit(b"S1A", 73), Some(1));
        assert_eq!(s1_relative_orbit(b"S1B", 26), Some(175));
    }

    #[test]
    fn s2_compact() {
        let p = parse("S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip");
        assert_eq!(
            p,
            Product {
                mission: some("S2"),
                sat: some("S2A"),
                product: some("MSIL1C"),
                level: some("L1C"),
                mode: None,
                tile: some("T31NFF"),
                orbit: Some(122),
                absorbit: None,
                baseline: some("N0204"),
                date: Some(datetime!(2017-01-01 10:04:12 UTC)),
                end: None,
            }
        );
        let p = parse("S2B_MSIL2A_20200820T103629_N0214_R008_T31TGM_20200820T133254.SAFE");
        assert_eq!(
            (p.product, p.level, p.orbit),
            (some("MSIL2A"), some("L2A"), Some(8))
        );
        let p = parse("S2C_MSIL2A_20250527T191931_N0511_R099_T10VFL_20250528T002013.zip");
        assert_eq!(
            (p.sat, p.tile, p.baseline),
            (some("S2C"), some("T10VFL"), some("N0511"))
        );
    }

    #[test]
    fn s2_original_format() {
        let p = parse(
            "S2A_OPER_PRD_MSIL1C_PDMC_20151230T202002_R008_V20151230T105153_20151230T105153.SAFE",
        );
        assert_eq!(
            p,
            Product {
                mission: some("S2"),
                sat: some("S2A"),
                product: some("MSIL1C"),
                level: some("L1C"),
                orbit: Some(8),
                date: Some(datetime!(2015-12-30 10:51:53 UTC)),
                end: Some(datetime!(2015-12-30 10:51:53 UTC)),
                ..Product::default()
            }
        );
        let p = parse(
            "S2A_USER_PRD_MSIL2A_PDMC_20160614T005258_R094_V20160613T110559_20160613T110559.SAFE",
        );
        assert_eq!((p.level, p.orbit), (some("L2A"), Some(94)));
        assert_eq!(p.date, Some(datetime!(2016-06-13 11:05:59 UTC)));
    }

    #[test]
    fn s3_frames_stripes_and_tiles() {
        let p = parse(
            "S3A_OL_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002.SEN3",
        );
        assert_eq!(
            p,
            Product {
                mission: some("S3"),
                sat: some("S3A"),
                product: some("OL_1_EFR"),
                level: some("L1"),
                orbit: Some(8),
                date: Some(datetime!(2020-12-05 10:23:30 UTC)),
                end: Some(datetime!(2020-12-05 10:26:30 UTC)),
                ..Product::default()
            }
        );
        let cases = [
            ("S3A_OL_1_ERR____20201210T094858_20201210T103307_20201210T115918_2649_066_079______LN1_O_NR_002.SEN3", "OL_1_ERR", "L1", Some(79)),
            ("S3B_OL_2_WFR____20220703T075301_20220703T075601_20220704T171729_0179_067_363_2160_MAR_O_NT_003.SEN3.zip", "OL_2_WFR", "L2", Some(363)),
            ("S3A_SL_1_RBT____20210827T074336_20210827T074636_20210827T094954_0179_075_320_3060_LN2_O_NR_004", "SL_1_RBT", "L1", Some(320)),
            ("S3B_SL_2_LST____20200818T100722_20200818T101022_20200819T161150_0179_042_236_2160_LN2_O_NT_004.SEN3", "SL_2_LST", "L2", Some(236)),
            ("S3A_SL_2_WST____20130621T101013_20130621T101053_20140613T135758_0039_009_022______MAR_O_NR____.SEN3", "SL_2_WST", "L2", Some(22)),
            ("S3A_SR_1_SRA____20170401T004834_20170401T013904_20170426T154541_3029_016_088______MAR_O_NT_002.SEN3", "SR_1_SRA", "L1", Some(88)),
            ("S3A_SR_2_LAN____20180419T102520_20180419T111512_20180514T220143_2991_030_165______LN3_O_NT_003.SEN3", "SR_2_LAN", "L2", Some(165)),
            ("S3A_SR_2_LAN_HY_20241020T203045_20241020T203859_20241116T003153_0494_118_171______PS1_O_NT_005.SEN3", "SR_2_LAN_HY", "L2", Some(171)),
            ("S3A_SR_2_WAT____20190326T011836_20190326T020243_20190420T170416_2647_043_017______MAR_O_NT_003.SEN3", "SR_2_WAT", "L2", Some(17)),
            ("S3A_SY_2_SYN____20190202T004600_20190202T004900_20190203T142947_0179_041_045_2700_LN2_O_NT_002.SEN3", "SY_2_SYN", "L2", Some(45)),
            ("S3B_SY_2_VGP____20210213T192726_20210213T201112_20210215T060438_2626_049_099______LN2_O_NT_002.SEN3", "SY_2_VGP", "L2", Some(99)),
            ("S3A_SY_2_V10____20210911T000000_20210920T235959_20210928T121452_EUROPE____________LN2_O_NT_002.SEN3", "SY_2_V10", "L2", None),
        ];
        for (name, product, level, orbit) in cases {
            let p = parse(name);
            assert_eq!(
                (p.product, p.level, p.orbit),
                (some(product), some(level), orbit),
                "{name}"
            );
        }
        let p = parse("S3B_SY_2_VGP____20210213T192726_20210213T201112_20210215T060438_2626_049_099______LN2_O_NT_002.SEN3");
        assert_eq!((p.mission, p.sat), (some("S3"), some("S3B")));
    }

    #[test]
    fn s5p() {
        let p = parse(
            "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc",
        );
        assert_eq!(
            p,
            Product {
                mission: some("S5P"),
                sat: some("S5P"),
                product: some("L2__NO2"),
                level: some("L2"),
                absorbit: Some(29310),
                date: Some(datetime!(2023-06-15 10:35:24 UTC)),
                end: Some(datetime!(2023-06-15 12:16:54 UTC)),
                ..Product::default()
            }
        );
        let cases = [
            ("S5P_OFFL_L1B_RA_BD8_20180630T181331_20180630T195501_03694_01_010000_20180630T214541.nc", "L1B_RA_BD8", "L1B", 3694),
            ("S5P_OFFL_L1B_IR_UVN_20190807T034230_20190807T052359_09403_01_010000_20190807T070824.nc", "L1B_IR_UVN", "L1B", 9403),
            ("S5P_NRTI_L2__CO_____20230801T230402_20230801T230902_30057_03_020500_20230802T000504.nc", "L2__CO", "L2", 30057),
            ("S5P_NRTI_L2__SO2____20250705T064145_20250705T064645_40035_03_020701_20250705T071829.nc", "L2__SO2", "L2", 40035),
            ("S5P_RPRO_L2__CH4____20220701T024730_20220701T042859_24427_03_020400_20230131T104028.nc", "L2__CH4", "L2", 24427),
            ("S5P_OFFL_L2__AER_AI_20200129T053326_20200129T071456_11887_01_010302_20200201T072459.nc", "L2__AER_AI", "L2", 11887),
            ("S5P_OFFL_L2__O3__PR_20211231T010540_20211231T024709_21844_02_020301_20220101T165013.nc", "L2__O3__PR", "L2", 21844),
            ("S5P_OFFL_L2__CLOUD__20191222T040256_20191222T054426_11347_01_010107_20191223T174903.nc", "L2__CLOUD", "L2", 11347),
            ("S5P_OFFL_L2__HCHO___20230608T193244_20230608T211414_29289_03_020401_20230610T184103.nc", "L2__HCHO", "L2", 29289),
            ("S5P_OFFL_L2__NP_BD6_20211222T090116_20211222T104246_21721_02_010300_20211223T224704", "L2__NP_BD6", "L2", 21721),
            ("S5P_PAL__L2__NO2____20210101T031206_20210101T045336_16681_01_020301_20211112T015828.nc", "L2__NO2", "L2", 16681),
        ];
        for (name, product, level, absorbit) in cases {
            let p = parse(name);
            assert_eq!(
                (p.product, p.level, p.absorbit, p.orbit),
                (some(product), some(level), Some(absorbit), None),
                "{name}"
            );
        }
    }

    #[test]
    fn serializes_set_fields_in_order_with_rfc3339_dates() {
        let p = parse("S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"mission":"S1","sat":"S1A","product":"GRD","level":"L1","mode":"IW","orbit":73,"absorbit":41270,"date":"2022-01-01T05:20:08Z","end":"2022-01-01T05:20:33Z"}"#
        );
        let p = parse("S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"mission":"S2","sat":"S2A","product":"MSIL1C","level":"L1C","tile":"T31NFF","orbit":122,"baseline":"N0204","date":"2017-01-01T10:04:12Z"}"#
        );
        assert_eq!(serde_json::to_string(&Product::default()).unwrap(), "{}");
    }

    #[test]
    fn rejects_names_that_are_not_products() {
        for name in [
            "",
            "README.txt",
            "S1A_",
            "S2A_foo",
            "S3A",
            "S5P",
            ".zip",
            "S1A_IW_GRDH_1SDV.zip",
            "manifest.safe",
            "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C€.zip",
            "Ş1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "日本語のファイル名",
            "\u{0}\u{0}\u{0}\u{0}",
            // Lower case, as in EODC directory names, is not a product name.
            "s1a_iw_grdh_1sdv_20220101t052008_20220101t052033_041270_04e7b4_5b5c",
            // Satellites that do not exist (yet).
            "S1E_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S2D_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120",
            "S3C_OL_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002",
            // Other missions' names that share a prefix.
            "S3__GN_1_GSVHAX_20211214T105947_20211216T105947_20211215T110113___________________LND_O_NR_001",
            "S5P_OPER_AUX_CTMFCT_20230615T000000_20230616T000000_20230615T120000.nc",
        ] {
            assert_eq!(parse_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn rejects_broken_product_names() {
        for name in [
            // S1: unknown mode, type, resolution, level, class, polarisation; lower-case hex;
            // impossible dates; a non-digit orbit; shifted separators; trailing junk.
            "S1A_XX_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_S7_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_ETA__1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDX_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_SLCH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRD__1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_3SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1XDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1SXX_20220101T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04e7b4_5B5C",
            "S1A_IW_GRDH_1SDV_20221301T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220230T052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220101T252008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220101 052008_20220101T052033_041270_04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_04127X_04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270-04E7B4_5B5C",
            "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C_X",
            "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C_CO",
            // S2: unknown type, bad baseline, orbit, tile, discriminator; original format with
            // a bad class or missing V.
            "S2A_MSIL1B_20170101T100412_N0204_R122_T31NFF_20170101T101120",
            "S2A_MSIL1C_20170101T100412_X0204_R122_T31NFF_20170101T101120",
            "S2A_MSIL1C_20170101T100412_N0204_RR22_T31NFF_20170101T101120",
            "S2A_MSIL1C_20170101T100412_N0204_R122_31NFFF_20170101T101120",
            "S2A_MSIL1C_20170101T100412_N0204_R122_T31nff_20170101T101120",
            "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101X101120",
            "S2A_TEST_PRD_MSIL1C_PDMC_20151230T202002_R008_V20151230T105153_20151230T105153",
            "S2A_OPER_PRD_MSIL1C_PDMC_20151230T202002_R008_X20151230T105153_20151230T105153",
            "S2A_OPER_MTD_MSIL1C_PDMC_20151230T202002_R008_V20151230T105153_20151230T105153",
            // S3: unknown instrument, level, lower-case type, bad instance id or class.
            "S3A_XX_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002",
            "S3A_OL_X_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002",
            "S3A_OL_1_efr____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002",
            "S3A_OL_1________20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_002",
            "S3A_OL_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_o_NR_002",
            "S3A_OL_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179_066_008_2340_LN1_O_NR_0a2",
            "S3A_OL_1_EFR____20201205T102330_20201205T102630_20201205T121305_0179-066_008_2340_LN1_O_NR_002",
            "S3A_OL_1_EFR____20201205T102330_20201205T102630_20201235T121305_0179_066_008_2340_LN1_O_NR_002",
            // S5P: unknown stream or level, bad orbit, collection or processor version.
            "S5P_TEST_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507",
            "S5P_OFFL_L3__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507",
            "S5P_OFFL_L2_____NO2_20230615T103524_20230615T121654_29310_03_020500_20230617T024507",
            "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_2931X_03_020500_20230617T024507",
            "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_3A_020500_20230617T024507",
            "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_02050X_20230617T024507",
        ] {
            assert_eq!(parse_name(name), None, "{name}");
        }
    }

    #[test]
    fn truncated_names_never_parse() {
        for name in REAL {
            let stem = name.split('.').next().unwrap();
            // A COG name cut before `_COG` is a complete S1 name.
            let complete = stem.strip_suffix("_COG");
            for len in 0..stem.len() {
                let cut = &stem[..len];
                if Some(cut) != complete {
                    assert_eq!(parse_name(cut), None, "{cut}");
                }
            }
        }
    }

    /// A deterministic xorshift generator, so failures reproduce.
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    #[test]
    fn never_panics() {
        let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
        // Noise over every byte value, and noise over a name-like alphabet that gets further
        // into the parsers, at every length around the fixed lengths.
        let alphabet = b"S1235ABPIWGRDHMOLCVT0123456789_.";
        for _ in 0..200_000 {
            let len = rng.below(100);
            let bytes: Vec<u8> = if rng.below(2) == 0 {
                (0..len).map(|_| rng.next().to_le_bytes()[0]).collect()
            } else {
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            };
            parse_name(&String::from_utf8_lossy(&bytes));
        }
        // Every real name with every byte replaced by bytes of each class, including ones
        // that turn into multi-byte replacement characters, and every truncation and suffix.
        for name in REAL {
            let bytes = name.as_bytes();
            for i in 0..bytes.len() {
                for c in [
                    b'_', b'0', b'9', b'A', b'T', b'.', b'/', b' ', 0, 0x7f, 0x80, 0xc3, 0xff,
                ] {
                    let mut mutated = bytes.to_vec();
                    mutated[i] = c;
                    parse_name(&String::from_utf8_lossy(&mutated));
                }
                let mut inserted = bytes.to_vec();
                inserted.splice(i..i, "é€".bytes());
                parse_name(&String::from_utf8_lossy(&inserted));
                parse_name(&String::from_utf8_lossy(&bytes[..i]));
                parse_name(&String::from_utf8_lossy(&bytes[i..]));
            }
        }
    }
}

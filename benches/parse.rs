//! Name parsing throughput (names/s) over real product names of every mission.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const NAMES: &[&str] = &[
    "S2A_MSIL1C_20170101T100412_N0204_R122_T31NFF_20170101T101120.zip",
    "S2B_MSIL2A_20230615T101559_N0509_R065_T32TQM_20230615T130541.SAFE",
    "S2A_OPER_PRD_MSIL1C_PDMC_20160111T064012_R008_V20151229T101025_20151229T101025.zip",
    "S1A_IW_GRDH_1SDV_20220101T052008_20220101T052033_041270_04E7B4_5B5C.zip",
    "S1B_EW_SLC__1SDH_20190305T060001_20190305T060101_015211_01C6F2_ABCD.zip",
    "S3A_OL_1_EFR____20230615T095417_20230615T095717_20230616T115314_0179_100_079_2160_PS1_O_NT_003.SEN3",
    "S5P_OFFL_L2__NO2____20230615T103524_20230615T121654_29310_03_020500_20230617T024507.nc",
    "README.txt",
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_name");
    group.throughput(Throughput::Elements(NAMES.len() as u64));
    group.bench_function("mixed missions", |b| {
        b.iter(|| {
            for name in NAMES {
                std::hint::black_box(catalog_index::sentinel::parse_name(std::hint::black_box(
                    name,
                )));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);

//! `near` on Location.position (<https://hl7.org/fhir/R4/location.html#positional>):
//! positions are indexed as a composite row (latitude in `c1_value`,
//! longitude in `c2_value`, see `crate::index` extraction). A search first
//! keeps the rows inside the circle's bounding box, which the composite
//! index serves, then those within the distance by the equirectangular
//! approximation: plain arithmetic, the same on both databases, and within
//! 0.5 % of the great-circle distance up to a few hundred kilometres — where
//! HAPI stops at the box.

use super::Emit;
use crate::search::params::NearValue;

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

pub(super) fn condition(e: &mut Emit<'_>, x: &str, value: &NearValue) {
    let (lat, long) = (format!("{x}.c1_value"), format!("{x}.c2_value"));
    let degrees = (value.metres / EARTH_RADIUS_M).to_degrees();
    let cos = value.latitude.to_radians().cos().max(1e-9);
    let long_span = degrees / cos;
    e.push(&lat)
        .push(" BETWEEN ")
        .real(value.latitude - degrees)
        .push(" AND ")
        .real(value.latitude + degrees);
    if long_span < 180.0 {
        e.push(" AND (");
        longitude_range(e, &long, value.longitude - long_span, value.longitude + long_span);
        e.push(")");
    }
    // (Δlat·k)² + (Δlong·k·cos φ₀)² ≤ d², with k metres per degree. The
    // longitude difference is taken the short way round the antimeridian.
    let k = EARTH_RADIUS_M.to_radians();
    let dlong = format!("(CASE WHEN abs({long} - ?) > 180 THEN 360 - abs({long} - ?) ELSE abs({long} - ?) END)");
    e.push(" AND ((")
        .push(&lat)
        .push(" - ")
        .real(value.latitude)
        .push(") * ")
        .real(k);
    e.push(") * ((")
        .push(&lat)
        .push(" - ")
        .real(value.latitude)
        .push(") * ")
        .real(k)
        .push(")");
    e.push(" + (");
    dlong_expr(e, &dlong, value.longitude);
    e.push(" * ").real(k * cos).push(") * (");
    dlong_expr(e, &dlong, value.longitude);
    e.push(" * ")
        .real(k * cos)
        .push(") <= ")
        .real(value.metres * value.metres);
}

/// The `dlong` template with its three placeholders bound to `longitude`.
fn dlong_expr(e: &mut Emit<'_>, template: &str, longitude: f64) {
    let mut parts = template.split('?');
    if let Some(first) = parts.next() {
        e.push(first);
    }
    for part in parts {
        e.real(longitude).push(part);
    }
}

/// `low ≤ long ≤ high`, split in two where the range crosses ±180°.
fn longitude_range(e: &mut Emit<'_>, column: &str, low: f64, high: f64) {
    if low < -180.0 {
        e.push(column)
            .push(" >= ")
            .real(low + 360.0)
            .push(" OR ")
            .push(column)
            .push(" <= ")
            .real(high);
    } else if high > 180.0 {
        e.push(column)
            .push(" >= ")
            .real(low)
            .push(" OR ")
            .push(column)
            .push(" <= ")
            .real(high - 360.0);
    } else {
        e.push(column).push(" BETWEEN ").real(low).push(" AND ").real(high);
    }
}

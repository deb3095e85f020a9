# SPDX-License-Identifier: ISC
# Sourced by the apps tests: a signed scanner database for a persona (a
# credential-bound one refuses installs without one). make_scan_db DIR
# writes DIR/eicar.com (EICAR, assembled here: 68 bytes), a database
# that knows it by its md5, signed into DIR/db.tfdb, and sets DBPK (its
# signer); use_scan_db PERSONA adds both to PERSONA's section of
# device.conf ($S).
make_scan_db() {
	local sc=${TWOFOLD_SCANNER:?}
	mkdir -p "$1/db"
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-' \
		'ANTIVIRUS-TEST-FILE!$H+H*' >"$1/eicar.com"
	echo "$(md5sum <"$1/eicar.com" | cut -d' ' -f1):68:Tf.Test.Eicar" >"$1/db/test.hdb"
	DBPK=$("$sc" keygen --out "$1/db.key") &&
		"$TWOFOLD" pkg scandb "$1/db" -o "$1/db.tfdb" --key "$1/db.key" >/dev/null
}
use_scan_db() {
	sed -i "/^\[persona $1\]/a scan_db = $W/db.tfdb\nscan_trust = $DBPK" "$S/device.conf"
}

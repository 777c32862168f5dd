#!/usr/bin/env bash
# gen-cards.sh - synthetic KTP / NPWP card images with ground truth.
#
# Usage: tests/gen-cards.sh [--seed N] [--count N] [--type KTP|NPWP|mixed]
#                           [--degrade none|light|photo] [--layout columns|inline]
#                           [--npwp15 PERCENT] [--jobs N] OUTDIR
#
# For each card writes OUTDIR/<name>.png (colour, 1011x638 at 300 dpi) and
# OUTDIR/<name>.json (the field values drawn on the card, keyed like the
# parser's output plus "documentType"), and appends "<name>.png<TAB>TYPE" to
# OUTDIR/manifest.tsv (no header line; the file is rewritten on every run).
#
# --degrade photo imitates a phone photo of a real card (tests/eval uses it):
# a guilloche-like pattern of coloured sine curves on a tinted card, the NIK
# in OCR-A (fonts-ocr-a) or a bold sans, body text in DejaVu Sans or Nimbus
# Sans (fonts-urw-base35), "Gol. Darah" beside the gender, the card on a dark
# table (40-90 px border), perspective (corners moved up to 2 %), rotation up
# to +/-10 degrees, uneven light, blur 0.4-1.1, Gaussian noise, and JPEG
# quality 50-90 (the file is then <name>.jpg).  --npwp15 sets the share of
# NPWP cards with the 15-digit punctuated number (default 100; the rest print
# the 16-digit NIK-based form as plain digits).
#
# Determinism: all field values come from bash's $RANDOM seeded with --seed,
# noise uses ImageMagick's -seed, and PNG time chunks are excluded, so the same
# arguments give byte-identical files on the same bash/ImageMagick versions.
#
# Field values are valid, not just well formed: the NIK is province + city +
# district codes of a real region, DDMMYY birth date (day + 40 for women) and
# a serial 0001..9999; the NPWP carries a Luhn check digit over its first 8
# digits.
#
# --layout inline (default) draws each row as one "Label : value" string, the
# form of the original's mock texts.  --layout columns draws labels, colons
# and values in aligned columns like a printed KTP; tesseract's PSM 3 then
# usually returns the label column and the value column as separate blocks, so
# line-based parsing finds nothing.  A seed gives the same field values in
# both layouts.  Text is passed inline to `convert` (Debian's policy blocks @file).
#
# SC2034: the tables are read through `local -n` in pick(); SC2054: commas in
# ImageMagick arguments (25%,80%) are not array separators.
# shellcheck disable=SC2034,SC2054
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/help.sh" "$@"

seed=1
count=10
type=KTP
degrade=none
layout=inline
npwp15=100
jobs=$(nproc 2>/dev/null || echo 1)
outdir=

usage() {
    echo "usage: $0 [--seed N] [--count N] [--type KTP|NPWP|mixed]" \
        "[--degrade none|light|photo] [--layout columns|inline] [--npwp15 PERCENT]" \
        "[--jobs N] OUTDIR" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --seed) seed=${2:?}; shift 2 ;;
    --count) count=${2:?}; shift 2 ;;
    --type) type=${2:?}; shift 2 ;;
    --degrade) degrade=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    --layout) layout=${2:?}; shift 2 ;;
    --npwp15) npwp15=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) [ -z "$outdir" ] || usage; outdir=$1; shift ;;
    esac
done
[ -n "$outdir" ] || usage
[[ $seed =~ ^[0-9]+$ && $count =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]] || usage
if ! [[ $npwp15 =~ ^[0-9]+$ ]] || ((npwp15 > 100)); then usage; fi
case $type in KTP | NPWP | mixed) ;; *) usage ;; esac
case $degrade in none | light | photo) ;; *) usage ;; esac
case $layout in columns | inline) ;; *) usage ;; esac
command -v convert >/dev/null || { echo "$0: ImageMagick convert not found" >&2; exit 1; }

# Region table: province code|province|city code|city (as printed on KTPs).
REGIONS=(
    "11|ACEH|71|KOTA BANDA ACEH"
    "12|SUMATERA UTARA|71|KOTA MEDAN"
    "13|SUMATERA BARAT|71|KOTA PADANG"
    "14|RIAU|71|KOTA PEKANBARU"
    "16|SUMATERA SELATAN|71|KOTA PALEMBANG"
    "18|LAMPUNG|71|KOTA BANDAR LAMPUNG"
    "21|KEPULAUAN RIAU|71|KOTA BATAM"
    "31|DKI JAKARTA|71|JAKARTA PUSAT"
    "31|DKI JAKARTA|72|JAKARTA UTARA"
    "31|DKI JAKARTA|73|JAKARTA BARAT"
    "31|DKI JAKARTA|74|JAKARTA SELATAN"
    "31|DKI JAKARTA|75|JAKARTA TIMUR"
    "32|JAWA BARAT|01|KABUPATEN BOGOR"
    "32|JAWA BARAT|73|KOTA BANDUNG"
    "32|JAWA BARAT|75|KOTA BEKASI"
    "33|JAWA TENGAH|74|KOTA SEMARANG"
    "33|JAWA TENGAH|72|KOTA SURAKARTA"
    "34|DI YOGYAKARTA|04|KABUPATEN SLEMAN"
    "34|DI YOGYAKARTA|71|KOTA YOGYAKARTA"
    "35|JAWA TIMUR|78|KOTA SURABAYA"
    "35|JAWA TIMUR|73|KOTA MALANG"
    "36|BANTEN|71|KOTA TANGERANG"
    "36|BANTEN|74|KOTA TANGERANG SELATAN"
    "51|BALI|71|KOTA DENPASAR"
    "52|NUSA TENGGARA BARAT|71|KOTA MATARAM"
    "61|KALIMANTAN BARAT|71|KOTA PONTIANAK"
    "64|KALIMANTAN TIMUR|72|KOTA SAMARINDA"
    "71|SULAWESI UTARA|71|KOTA MANADO"
    "73|SULAWESI SELATAN|71|KOTA MAKASSAR"
    "81|MALUKU|71|KOTA AMBON"
    "94|PAPUA|71|KOTA JAYAPURA"
)
FIRST_M=(BUDI AGUS EKO JOKO ANDI RUDI HENDRA DEDI BAMBANG SURYA RIZKY FAJAR
    MUHAMMAD AHMAD DIMAS ARIF YOGA IRFAN HARIS WAHYU TEGUH BAYU ILHAM)
FIRST_F=(SITI DEWI SRI RINA LESTARI PUTRI AYU INDAH NUR FITRI ANISA MAYA
    RATNA WULAN DIAN YULIA NOVI MEGA TRI KARTIKA INTAN RAHMA)
LAST=(SANTOSO WIJAYA SAPUTRA SETIAWAN HIDAYAT PRATAMA KURNIAWAN NUGROHO
    LESTARI RAHAYU WIBOWO SUSANTO GUNAWAN HALIM SIREGAR NASUTION SIMANJUNTAK
    HUTAPEA PURNOMO HARAHAP KUSUMA PERMANA SUHENDRA)
PLACES=(JAKARTA BANDUNG SURABAYA MEDAN SEMARANG MAKASSAR PALEMBANG DENPASAR
    YOGYAKARTA MALANG BOGOR PADANG PONTIANAK MANADO AMBON JAYAPURA
    "TANJUNG PINANG" "BANDAR LAMPUNG" "BANDA ACEH" "PANGKAL PINANG")
STREETS=(MAWAR MELATI ANGGREK KENANGA SUDIRMAN THAMRIN "GATOT SUBROTO" MERDEKA
    DIPONEGORO "HAYAM WURUK" "KEBON JERUK" CEMPAKA "RAYA BOGOR" KARTINI
    "AHMAD YANI" PEMUDA "SISINGAMANGARAJA" "PANGERAN ANTASARI")
KELURAHAN=(MENTENG GAMBIR CIKINI KEBAYORAN TEBET CILANDAK PASAR MINGGU
    SUKAJADI CIBEUNYING TEGALSARI WONOKROMO GUBENG DARMO LOWOKWARU SUKAMAJU)
RELIGIONS=(ISLAM ISLAM ISLAM KRISTEN KATOLIK HINDU BUDDHA KONGHUCU)
MARITAL=("BELUM KAWIN" KAWIN KAWIN "CERAI HIDUP" "CERAI MATI")
JOBS=("KARYAWAN SWASTA" "PELAJAR/MAHASISWA" WIRASWASTA "PEGAWAI NEGERI SIPIL"
    "MENGURUS RUMAH TANGGA" "BURUH HARIAN LEPAS" PEDAGANG GURU)
KPP=("KPP PRATAMA JAKARTA SETIABUDI" "KPP PRATAMA BANDUNG CIBEUNYING"
    "KPP PRATAMA SURABAYA GUBENG" "KPP PRATAMA MEDAN BARAT"
    "KPP PRATAMA DENPASAR TIMUR" "KPP PRATAMA SEMARANG CANDISARI")

# pick ARRAY_NAME: REPLY = a random element.  Never call $RANDOM in a
# subshell: bash reseeds it there and determinism would be lost.
pick() {
    local -n arr=$1
    REPLY=${arr[RANDOM % ${#arr[@]}]}
}

# rand LO HI: REPLY = uniform integer in [LO, HI] (30 random bits).
rand() {
    REPLY=$((($1) + ((RANDOM << 15 | RANDOM) % (($2) - ($1) + 1))))
}

# random_name SEX: REPLY = "FIRST LAST" or "FIRST MIDDLE LAST".
random_name() {
    local first mid=
    if [ "$1" = F ]; then pick FIRST_F; else pick FIRST_M; fi
    first=$REPLY
    if ((RANDOM % 3 == 0)); then
        if [ "$1" = F ]; then pick FIRST_F; else pick FIRST_M; fi
        [ "$REPLY" = "$first" ] || mid="$REPLY "
    fi
    pick LAST
    REPLY="$first $mid$REPLY"
}

# random_birth: sets b_day b_mon b_year (a real calendar date, 1950..2006).
random_birth() {
    local dim=(31 28 31 30 31 30 31 31 30 31 30 31)
    rand 1950 2006; b_year=$REPLY
    rand 1 12; b_mon=$REPLY
    if ((b_mon == 2 && b_year % 4 == 0)); then dim[1]=29; fi
    rand 1 "${dim[b_mon - 1]}"; b_day=$REPLY
}

# luhn DIGITS: REPLY = the Luhn check digit for DIGITS.
luhn() {
    local d=$1 sum=0 i v dbl=1
    for ((i = ${#d} - 1; i >= 0; i--)); do
        v=${d:i:1}
        if ((dbl)); then v=$((v * 2)); ((v > 9)) && v=$((v - 9)); fi
        sum=$((sum + v)); dbl=$((!dbl))
    done
    REPLY=$(((10 - sum % 10) % 10))
}

# Degradation of a scanned/photographed card; the noise seed is per card.  The
# corners uncovered by the rotation are white, like a scanner lid.
degrade_args() {
    DEG=()
    if [ "$degrade" = photo ]; then
        photo_args "$1"
        return 0
    fi
    [ "$degrade" = light ] || return 0
    local r sign=
    rand -30 30; r=$REPLY
    if ((r < 0)); then sign=-; r=$((-r)); fi
    DEG=(+level 25%,80% -blur 0x0.8 -attenuate 0.6 -seed "$1" +noise Gaussian
        -background white -rotate "$sign$((r / 10)).$((r % 10))" +repage -alpha off)
}

# Card and table colours of --degrade photo: pattern ink, card tint, table.
INKS=("#6f9fcf" "#7fb0c8" "#8fa8d8" "#9cc0a8" "#c09cb8")
TINTS=("#dbe9f6" "#e4eef8" "#d6e6ef" "#e8f0e4" "#f2e6ee")
TABLES=("#3a2b20" "#202020" "#4a4a52" "#5b3a29" "#2b3440")
BLOODS=(A B AB O - A B O)
FONT_OCRA=/usr/share/fonts/truetype/ocr-a/OCRA.ttf
BODY_FONTS=(DejaVu-Sans /usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf)
NIK_FONTS=(DejaVu-Sans-Bold /usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf)

# pattern_file: writes $outdir/.guilloche.png once per run (grey sine curves
# on white, three crossing families); cards tint and shift it.
pattern_file() {
    PATTERN=$outdir/.guilloche.png
    [ "$degrade" = photo ] || return 0
    local draw
    draw=$(awk 'BEGIN {
        for (f = 0; f < 3; f++)
            for (k = 0; k < 26; k++) {
                printf "polyline"
                for (x = -8; x <= 1020; x += 6) {
                    y = k * 26 + (f - 1) * 9 + (14 + 6 * f) * sin(x / (40 + 23 * f) + k * 0.7 * f)
                    printf " %d,%d", x, y
                }
                printf " "
            }
    }')
    convert -size 1011x638 xc:white -fill none -stroke gray40 -strokewidth 1.2 -draw "$draw" \
        -depth 8 -define png:exclude-chunk=date,time "$PATTERN"
}

# photo_args CARDSEED: DEG = phone-photo degradations (see the header) and
# PHOTO_BASE = the tinted, shifted pattern the card is drawn on.
photo_args() {
    local ink tint table blur q bw a sign=
    pick INKS; ink=$REPLY
    pick TINTS; tint=$REPLY
    pick TABLES; table=$REPLY
    rand 4 11; blur=$REPLY
    rand 50 90; q=$REPLY
    rand 40 90; bw=$REPLY
    rand -100 100; a=$REPLY
    if ((a < 0)); then sign=-; a=$((-a)); fi
    local w=$((1011 + 2 * bw)) h=$((638 + 2 * bw)) c=() i
    for i in 1 2 3 4 5 6 7 8; do
        rand -20 20; c+=("$REPLY")
    done
    local persp="0,0 ${c[0]},${c[1]} $w,0 $((w + c[2])),${c[3]}"
    persp+=" $w,$h $((w + c[4])),$((h + c[5])) 0,$h ${c[6]},$((h + c[7]))"
    # REPLY / 2 is 0 or 1 on purpose: it picks which corner is lit.
    rand 0 3
    # shellcheck disable=SC2017
    local lx=$((REPLY % 2 * w)) ly=$((REPLY / 2 * h))
    rand 60 85; local shade=$REPLY
    rand 0 999; local rx=$REPLY
    rand 0 999; local ry=$REPLY
    PHOTO_BASE=("$PATTERN" -roll "+$rx+$ry" +level-colors "$ink,$tint")
    DEG=(-blur "0x0.$blur" -bordercolor "$table" -border "$bw"
        \( -size "${w}x$h" xc: -sparse-color Barycentric
        "$lx,$ly gray(100%) $((w - lx)),$((h - ly)) gray($shade%)" \)
        -compose multiply -composite -compose over
        -virtual-pixel background -background "$table" -distort Perspective "$persp"
        -rotate "$sign$((a / 10)).$((a % 10))" +repage
        -attenuate 0.5 -seed "$1" +noise Gaussian -alpha off -quality "$q")
}

# photo_base: BASE = the pattern tinted and shifted by photo_args.
photo_base() {
    BASE=("${PHOTO_BASE[@]}")
}

# card_fonts: NIK_FONT and BODY_FONT; photo mode mixes fonts, the NIK in
# OCR-A on two cards out of three.
card_fonts() {
    NIK_FONT=DejaVu-Sans-Bold
    BODY_FONT=DejaVu-Sans
    [ "$degrade" = photo ] || return 0
    if ((RANDOM % 3)); then NIK_FONT=$FONT_OCRA; else pick NIK_FONTS; NIK_FONT=$REPLY; fi
    pick BODY_FONTS; BODY_FONT=$REPLY
}

# Common output settings: colour PNG, 8-bit, 300 dpi, no time chunks.  Noisy
# images do not compress: zlib level 0 saves ~0.3 s per card over the default.
OUTARGS=(-units PixelsPerInch -density 300 -depth 8 -define png:exclude-chunk=date,time)
[ "$degrade" = none ] || [ "$degrade" = photo ] || OUTARGS+=(-quality 1)
EXT=png
[ "$degrade" = photo ] && EXT=jpg

# render FILE: runs convert on ARGS + DEG in the background, at most $jobs at
# once.  Field values were already drawn in this shell, so the parallelism
# does not affect determinism.
running=0
failed=0
render() {
    if ((running >= jobs)); then
        wait -n || failed=1
        running=$((running - 1))
    fi
    convert "${ARGS[@]}" "${DEG[@]}" "${OUTARGS[@]}" "$1" &
    running=$((running + 1))
}

# field LABEL VALUE Y [LABEL_X [VALUE_X]]: appends a row at Y to ARGS in the
# current font.  columns: label, then ":" and value in aligned columns (a real
# KTP); inline: "LABEL : VALUE" as one string (the original's mock texts).
field() {
    if [ "$layout" = inline ]; then
        ARGS+=(-annotate "+${4:-30}+$3" "$1 : $2")
    else
        ARGS+=(-annotate "+${4:-30}+$3" "$1" -annotate "+245+$3" ":"
            -annotate "+${5:-265}+$3" "$2")
    fi
}

gen_ktp() { # NAME CARDSEED
    local sex gender name place nik region pcode prov ccode city dd dob addr rel mar job
    local kel kec y
    pick REGIONS; IFS='|' read -r pcode prov ccode city <<<"$REPLY"
    if ((RANDOM % 2)); then sex=F; gender=PEREMPUAN; else sex=M; gender=LAKI-LAKI; fi
    random_name "$sex"; name=$REPLY
    pick PLACES; place=$REPLY
    random_birth
    printf -v dob '%02d-%02d-%04d' "$b_day" "$b_mon" "$b_year"
    dd=$b_day; [ "$sex" = F ] && dd=$((dd + 40))
    rand 1 30; printf -v region '%s%s%02d' "$pcode" "$ccode" "$REPLY"
    rand 1 9999
    printf -v nik '%s%02d%02d%02d%04d' "$region" "$dd" "$b_mon" $((b_year % 100)) "$REPLY"
    pick STREETS; addr="JL. $REPLY NO. $((RANDOM % 250 + 1))"
    pick KELURAHAN; kel=$REPLY
    pick KELURAHAN; kec=$REPLY
    pick RELIGIONS; rel=$REPLY
    pick MARITAL; mar=$REPLY
    pick JOBS; job=$REPLY
    local rt rw
    printf -v rt '%03d' $((RANDOM % 20 + 1)); printf -v rw '%03d' $((RANDOM % 15 + 1))
    local issued
    rand 2012 2023; printf -v issued '%02d-%02d-%04d' $((RANDOM % 28 + 1)) \
        $((RANDOM % 12 + 1)) "$REPLY"

    degrade_args "$2"
    card_fonts
    local blood='' valid="SEUMUR HIDUP"
    if [ "$degrade" = photo ]; then
        pick BLOODS; blood=$REPLY
        if ((RANDOM % 5 == 0)); then
            rand 2020 2030; printf -v valid '%s-%04d' "${issued:0:5}" "$REPLY"
        fi
    fi
    BASE=(-size 1011x638 "xc:#dbe9f6")
    [ "$degrade" != photo ] || photo_base
    ARGS=("${BASE[@]}" -fill black -gravity North
        -font DejaVu-Sans-Bold -pointsize 26 -annotate +0+16 "PROVINSI $prov"
        -annotate +0+50 "$city" -gravity NorthWest
        -font "$NIK_FONT" -pointsize 30)
    field "NIK" "$nik" 100 30 275
    ARGS+=(-font "$BODY_FONT" -pointsize 21)
    y=152
    field "Nama" "$name" $y; y=$((y + 31))
    field "Tempat/Tgl Lahir" "$place, $dob" $y; y=$((y + 31))
    if [ -n "$blood" ] && [ "$layout" = inline ]; then
        field "Jenis Kelamin" "$gender  Gol. Darah : $blood" $y
    else
        field "Jenis Kelamin" "$gender" $y
        [ -z "$blood" ] || ARGS+=(-annotate "+560+$y" "Gol. Darah : $blood")
    fi
    y=$((y + 31))
    field "Alamat" "$addr" $y; y=$((y + 31))
    field "RT/RW" "$rt/$rw" $y 60; y=$((y + 31))
    field "Kel/Desa" "$kel" $y 60; y=$((y + 31))
    field "Kecamatan" "$kec" $y 60; y=$((y + 31))
    field "Agama" "$rel" $y; y=$((y + 31))
    field "Status Perkawinan" "$mar" $y; y=$((y + 31))
    field "Pekerjaan" "$job" $y; y=$((y + 31))
    field "Kewarganegaraan" "WNI" $y; y=$((y + 31))
    field "Berlaku Hingga" "$valid" $y
    # Photo area and issuing place/date, right column.
    ARGS+=(-fill "#b7c4d1" -draw "rectangle 770,110 960,360" -fill black -pointsize 16
        -annotate +800+380 "${city#KOTA }" -annotate +815+402 "$issued")
    render "$outdir/$1.$EXT"
    {
        printf '{"documentType":"KTP","nik":"%s","name":"%s","birthPlace":"%s",' \
            "$nik" "$name" "$place"
        printf '"birthDate":"%s","gender":"%s","address":"%s","religion":"%s",' \
            "$dob" "$gender" "$addr" "$rel"
        printf '"maritalStatus":"%s","rtRw":"%s","village":"%s","district":"%s",' \
            "$mar" "$rt/$rw" "$kel" "$kec"
        printf '"occupation":"%s","nationality":"WNI","validUntil":"%s","province":"%s",' \
            "$job" "$valid" "$prov"
        printf '"city":"%s"' "$city"
        [ -z "$blood" ] || printf ',"bloodType":"%s"' "$blood"
        printf '}\n'
    } >"$outdir/$1.json"
}

gen_npwp() { # NAME CARDSEED
    local sex name digits npwp nik addr kpp reg
    if ((RANDOM % 2)); then sex=F; else sex=M; fi
    random_name "$sex"; name=$REPLY
    # Individual taxpayers: type 07..09, 6-digit serial, Luhn digit, KPP, 000.
    rand 7 9; printf -v digits '%02d' "$REPLY"
    rand 1 999999; printf -v REPLY '%06d' "$REPLY"; digits+=$REPLY
    luhn "$digits"; digits+=$REPLY
    rand 1 999; printf -v REPLY '%03d000' "$REPLY"; digits+=$REPLY
    npwp="${digits:0:2}.${digits:2:3}.${digits:5:3}.${digits:8:1}-${digits:9:3}.${digits:12:3}"
    local pcode prov ccode city
    pick REGIONS; IFS='|' read -r pcode prov ccode city <<<"$REPLY"
    random_birth
    rand 1 9999
    local dd=$b_day
    [ "$sex" = F ] && dd=$((dd + 40))
    printf -v nik '%s%s%02d%02d%02d%02d%04d' "$pcode" "$ccode" $((RANDOM % 30 + 1)) \
        "$dd" "$b_mon" $((b_year % 100)) "$REPLY"
    pick STREETS; addr="JL. $REPLY NO. $((RANDOM % 250 + 1))"
    pick KPP; kpp=$REPLY
    rand 2005 2023; printf -v reg '%02d-%02d-%04d' $((RANDOM % 28 + 1)) \
        $((RANDOM % 12 + 1)) "$REPLY"

    degrade_args "$2"
    card_fonts
    if [ "$degrade" = photo ] && ((RANDOM % 100 >= npwp15)); then
        npwp=$nik
    fi
    BASE=(-size 1011x638 "xc:#eef1f4")
    [ "$degrade" != photo ] || photo_base
    ARGS=("${BASE[@]}" -fill black -gravity NorthWest
        -font DejaVu-Sans-Bold -pointsize 20
        -annotate +30+20 "KEMENTERIAN KEUANGAN REPUBLIK INDONESIA"
        -annotate +30+48 "DIREKTORAT JENDERAL PAJAK"
        -font "$NIK_FONT" -pointsize 30)
    field "NPWP" "$npwp" 120 30 275
    ARGS+=(-font "$BODY_FONT" -pointsize 22)
    field "Nama" "$name" 180
    field "NIK" "$nik" 215
    field "Alamat" "$addr" 250
    local addr2x=265
    [ "$layout" = columns ] || addr2x=120
    ARGS+=(-annotate "+${addr2x}+280" "${city}, $prov" -annotate +30+340 "$kpp"
        -annotate +30+375 "Tanggal Terdaftar : $reg")
    render "$outdir/$1.$EXT"
    printf '{"documentType":"NPWP","npwpNumber":"%s","name":"%s"}\n' "$npwp" "$name" \
        >"$outdir/$1.json"
}

mkdir -p "$outdir"
: >"$outdir/manifest.tsv"
pattern_file
RANDOM=$seed
for ((i = 1; i <= count; i++)); do
    t=$type
    if [ "$t" = mixed ]; then
        if ((RANDOM % 2)); then t=NPWP; else t=KTP; fi
    fi
    lower=${t,,}
    printf -v card '%s-%04d' "$lower" "$i"
    "gen_$lower" "$card" $((seed * 100000 + i))
    printf '%s.%s\t%s\n' "$card" "$EXT" "$t" >>"$outdir/manifest.tsv"
done
while ((running > 0)); do
    wait -n || failed=1
    running=$((running - 1))
done
if ((failed)); then
    echo "$0: convert failed" >&2
    exit 1
fi

#!/usr/bin/python3
"""gen-photos.py - the realistic eval set of `make eval`: KTP and NPWP cards
drawn as phone photos, camera frames and scans, with the ground truth in a
JSON lines manifest.

usage: gen-photos.py [--seed N] [--per-band N] [--pdfs N] [--jobs N] OUTDIR

Writes OUTDIR/<band>-<type>-<NNNN>.jpg (or .pdf) and OUTDIR/manifest.jsonl,
one line per document: file, type, band, scene, fonts, size, truth.

It shares nothing with tests/gen-cards.sh (bash + ImageMagick) or the
extractor's unit tests: text is drawn by PIL/FreeType in other fonts
(Liberation Sans, FreeSans, Noto Sans, Carlito; the NIK in OCR-A or a bold
sans), with label spelling, spacing and colon variants, on a card that is then
projected into the frame with perspective.  Light, shadow, blur, Gaussian and
impulse noise and JPEG compression are applied at the FINAL resolution, so a
large frame carries full-strength pixel noise the reader has to average away.

Bands (long side of the frame): vga 640-900 px, card 1000-1400 px, phone
2500-4000 px; "pdf" holds a few flat scans wrapped by img2pdf.  Each document
draws from its own random generator seeded by (seed, index), so the set does
not depend on --jobs and reruns give identical files.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/"
BODY_FONTS = {  # name: (regular, bold)
    "LiberationSans": ("liberation2/LiberationSans-Regular.ttf",
                       "liberation2/LiberationSans-Bold.ttf"),
    "FreeSans": ("freefont/FreeSans.ttf", "freefont/FreeSansBold.ttf"),
    "NotoSans": ("noto/NotoSans-Regular.ttf", "noto/NotoSans-Bold.ttf"),
    "Carlito": ("crosextra/Carlito-Regular.ttf", "crosextra/Carlito-Bold.ttf"),
}
OCRA = "ocr-a/OCRA.ttf"

# Province code, province, city code, city as printed on the card's header.
REGIONS = [
    ("11", "ACEH", "06", "KABUPATEN ACEH BESAR"), ("12", "SUMATERA UTARA", "75", "KOTA BINJAI"),
    ("12", "SUMATERA UTARA", "07", "KABUPATEN DELI SERDANG"),
    ("13", "SUMATERA BARAT", "75", "KOTA BUKITTINGGI"), ("15", "JAMBI", "71", "KOTA JAMBI"),
    ("17", "BENGKULU", "71", "KOTA BENGKULU"), ("19", "KEPULAUAN BANGKA BELITUNG", "71",
                                                "KOTA PANGKAL PINANG"),
    ("31", "DKI JAKARTA", "74", "JAKARTA SELATAN"), ("31", "DKI JAKARTA", "75", "JAKARTA TIMUR"),
    ("31", "DKI JAKARTA", "73", "JAKARTA BARAT"), ("32", "JAWA BARAT", "04", "KABUPATEN BANDUNG"),
    ("32", "JAWA BARAT", "76", "KOTA DEPOK"), ("32", "JAWA BARAT", "16", "KABUPATEN BEKASI"),
    ("32", "JAWA BARAT", "77", "KOTA CIMAHI"), ("33", "JAWA TENGAH", "02", "KABUPATEN BANYUMAS"),
    ("33", "JAWA TENGAH", "75", "KOTA PEKALONGAN"), ("33", "JAWA TENGAH", "10", "KABUPATEN KLATEN"),
    ("34", "DAERAH ISTIMEWA YOGYAKARTA", "02", "KABUPATEN BANTUL"),
    ("35", "JAWA TIMUR", "15", "KABUPATEN SIDOARJO"), ("35", "JAWA TIMUR", "79", "KOTA BATU"),
    ("35", "JAWA TIMUR", "09", "KABUPATEN JEMBER"), ("36", "BANTEN", "03", "KABUPATEN TANGERANG"),
    ("36", "BANTEN", "72", "KOTA CILEGON"), ("51", "BALI", "03", "KABUPATEN BADUNG"),
    ("53", "NUSA TENGGARA TIMUR", "71", "KOTA KUPANG"),
    ("62", "KALIMANTAN TENGAH", "71", "KOTA PALANGKA RAYA"),
    ("63", "KALIMANTAN SELATAN", "71", "KOTA BANJARMASIN"),
    ("72", "SULAWESI TENGAH", "71", "KOTA PALU"), ("74", "SULAWESI TENGGARA", "71", "KOTA KENDARI"),
    ("76", "SULAWESI BARAT", "04", "KABUPATEN MAMUJU"), ("82", "MALUKU UTARA", "71",
                                                          "KOTA TERNATE"),
    ("91", "PAPUA BARAT", "05", "KABUPATEN MANOKWARI"),
]
MALE = ["ADITYA", "BAGUS", "CAHYO", "DANANG", "ERWIN", "FIRMAN", "GILANG", "HERU", "IMAM",
        "JUNAEDI", "KURNIA", "LUKMAN", "MULYADI", "NANANG", "OKTAVIANUS", "PRASETYO", "RAHMAT",
        "SLAMET", "TAUFIK", "UJANG", "VINCENTIUS", "WAWAN", "YOHANES", "ZAINAL", "ASEP",
        "I GEDE", "I KETUT", "FRANSISKUS", "SUPARMAN", "NYOMAN"]
FEMALE = ["AGUSTINA", "BUNGA", "CITRA", "DEWANTI", "ELISABETH", "FAUZIAH", "GRACE", "HANDAYANI",
          "IRMA", "JUWITA", "KHADIJAH", "LIDYA", "MARGARETHA", "NURHAYATI", "OKTAVIA", "PUSPITA",
          "ROSMAWATI", "SUMARNI", "TITIN", "UMI", "VERONIKA", "WINARSIH", "YULIANTI", "ZAHRA",
          "NI MADE", "NI LUH", "EUIS", "SRIYATUN"]
FAMILY = ["SIHOMBING", "PANJAITAN", "LUBIS", "MANURUNG", "SITOMPUL", "TAMBUNAN", "SUGIARTO",
          "HARTONO", "SETIADI", "MULYONO", "KUSNADI", "RAMADHAN", "FIRMANSYAH", "HIDAYATULLAH",
          "TANOTO", "GUNADI", "WIRANATA", "SUTRISNO", "PARDEDE", "PATTIPEILOHY", "WATTIMENA",
          "RUMBIAK", "DAENG MATTA", "SETIABUDI", "PURBA", "NAINGGOLAN", "WIJAYAKUSUMA",
          "SULISTYOWATI", "KARTIKASARI", "ANGGRAINI"]
PLACES = ["BANYUWANGI", "CIREBON", "TASIKMALAYA", "PEMATANGSIANTAR", "PURWOKERTO", "KEDIRI",
          "BLITAR", "TEGAL", "MAGELANG", "SUKABUMI", "GARUT", "KUPANG", "TERNATE", "SORONG",
          "BIMA", "SINGARAJA", "PALU", "KENDARI", "JAMBI", "BENGKULU", "LUBUK LINGGAU",
          "TANJUNG KARANG", "BALIKPAPAN", "TARAKAN", "PARE PARE", "BUKITTINGGI", "SALATIGA",
          "MOJOKERTO", "PROBOLINGGO", "JAKARTA"]
STREETS = ["KENARI", "CENDRAWASIH", "MERPATI", "NANGKA", "DURIAN", "SALEMBA RAYA", "FATMAWATI",
           "PAHLAWAN", "VETERAN", "IMAM BONJOL", "TEUKU UMAR", "CUT NYAK DIEN", "DEWI SARTIKA",
           "SILIWANGI", "WR SUPRATMAN", "KH AGUS SALIM", "GAJAH MADA", "PANGLIMA POLIM",
           "KAPTEN TENDEAN", "KALIMALANG", "PERINTIS KEMERDEKAAN", "BRIGJEN KATAMSO"]
VILLAGES = ["CIPETE UTARA", "PONDOK LABU", "KARANG ANYAR", "SUKAMULYA", "TANJUNG BARAT",
            "MEKARSARI", "SIDOMULYO", "KEBONSARI", "PANDEAN", "WONOREJO", "SUMBERSARI",
            "CILEDUG", "JATIWARINGIN", "PEGANGSAAN", "BANJARSARI", "MARGAHAYU", "KALIDERES"]
DISTRICTS = ["KEBAYORAN BARU", "CIPAYUNG", "CIBINONG", "BATUNUNGGAL", "BANYUMANIK", "KOTAGEDE",
             "RUNGKUT", "KUTA SELATAN", "PANAKKUKANG", "MEDAN BARU", "SUKARAME", "ILIR TIMUR I",
             "PONTIANAK KOTA", "BALIKPAPAN UTARA", "SEMAMPIR", "CIMANGGIS", "SERPONG UTARA"]
RELIGIONS = ["ISLAM"] * 6 + ["KRISTEN", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA", "KONGHUCU"]
MARITAL = ["BELUM KAWIN", "BELUM KAWIN", "KAWIN", "KAWIN", "KAWIN", "CERAI HIDUP",
           "CERAI MATI"]
JOBS = ["KARYAWAN SWASTA", "WIRASWASTA", "PELAJAR/MAHASISWA", "MENGURUS RUMAH TANGGA",
        "PEGAWAI NEGERI SIPIL", "PETANI/PEKEBUN", "NELAYAN/PERIKANAN", "PEDAGANG", "DOKTER",
        "BELUM/TIDAK BEKERJA", "KARYAWAN BUMN", "SOPIR", "TENTARA NASIONAL INDONESIA"]
BLOOD = ["A", "B", "AB", "O", "-"]
KPP = ["KPP PRATAMA JAKARTA KEBAYORAN BARU TIGA", "KPP PRATAMA BEKASI UTARA",
       "KPP PRATAMA SIDOARJO BARAT", "KPP PRATAMA DEPOK SAWANGAN", "KPP PRATAMA MAKASSAR SELATAN",
       "KPP PRATAMA BADUNG UTARA", "KPP MADYA BANDUNG"]
MONTHS = ["JANUARI", "FEBRUARI", "MARET", "APRIL", "MEI", "JUNI", "JULI", "AGUSTUS",
          "SEPTEMBER", "OKTOBER", "NOVEMBER", "DESEMBER"]
BIRTH_LABELS = ["Tempat/Tgl Lahir", "Tempat/Tgl.Lahir", "Tempat / Tgl Lahir", "Tempat/Tgl. Lahir",
                "Tempat/TglLahir"]
BANDS = {"vga": (640, 900), "card": (1000, 1400), "phone": (2500, 4000)}
# Card width / frame width per band: a VGA frame shows the card large enough
# to read (people crop), a phone photo may show much of the table.
OCCUPANCY = {"vga": (0.72, 0.92), "card": (0.55, 0.92), "phone": (0.35, 0.92)}
CARD_W, CARD_H = 1000, 631  # layout units (85.6 x 54 mm)


def person(r):
    """Sex, gender as printed, full name (1-3 words, a few with dots)."""
    male = r.random() < 0.5
    first = r.choice(MALE if male else FEMALE)
    name = first if r.random() < 0.12 else first + " " + r.choice(FAMILY)
    if r.random() < 0.2:
        name = r.choice(MALE if male else FEMALE) + " " + name
    if r.random() < 0.06:
        name = ("MOH. " if male else "HJ. ") + name
    return male, "LAKI-LAKI" if male else "PEREMPUAN", name


def birth(r):
    """(day, month, year) of a real calendar date, 1955..2007."""
    year, month = r.randint(1955, 2007), r.randint(1, 12)
    days = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return r.randint(1, days[month - 1]), month, year


def nik_for(r, region, male, dmy):
    """16-digit NIK: region codes, DDMMYY (+40 for women), serial."""
    day = dmy[0] + (0 if male else 40)
    return "%s%s%02d%02d%02d%02d%04d" % (region[0], region[2], r.randint(1, 40), day, dmy[1],
                                         dmy[2] % 100, r.randint(1, 9999))


def address(r):
    """An address line in one of the usual printed forms."""
    kind = r.random()
    if kind < 0.55:
        return "JL. %s NO. %d" % (r.choice(STREETS), r.randint(1, 180))
    if kind < 0.7:
        return "JL. %s GG. %s NO. %d%s" % (r.choice(STREETS), r.choice(["I", "II", "III", "V"]),
                                          r.randint(1, 60), r.choice(["", "A", "B"]))
    if kind < 0.85:
        return "PERUM %s BLOK %s%d NO. %d" % (r.choice(["GRIYA ASRI", "BUMI INDAH", "TAMAN SARI"]),
                                            r.choice("ABCDE"), r.randint(1, 12), r.randint(1, 40))
    return "DUSUN %s" % r.choice(["KRAJAN", "SUKAMAJU", "TEGALREJO", "KARANGREJO"])


def ktp_truth(r):
    """All printed KTP values; the 8 original keys + the extra lines."""
    region = r.choice(REGIONS)
    male, gender, name = person(r)
    dmy = birth(r)
    nik = nik_for(r, region, male, dmy)
    if r.random() < 0.04:  # real cards exist whose NIK date part disagrees
        nik = nik[:6] + "%02d" % r.randint(1, 28) + nik[8:]
    valid = "SEUMUR HIDUP" if r.random() < 0.8 else "%02d-%02d-%d" % (
        r.randint(1, 28), r.randint(1, 12), r.randint(2017, 2030))
    return {
        "nik": nik, "name": name, "birthPlace": r.choice(PLACES),
        "birthDate": "%02d-%02d-%04d" % dmy, "address": address(r), "gender": gender,
        "religion": r.choice(RELIGIONS), "maritalStatus": r.choice(MARITAL),
        "rtRw": "%03d/%03d" % (r.randint(1, 19), r.randint(1, 14)),
        "village": r.choice(VILLAGES), "district": r.choice(DISTRICTS),
        "occupation": r.choice(JOBS), "nationality": "WNI", "validUntil": valid,
        "province": region[1], "city": region[3], "bloodType": r.choice(BLOOD),
    }


def npwp_truth(r, form16):
    """NPWP number (15-digit dotted or 16-digit NIK form), name, extras."""
    region = r.choice(REGIONS)
    male, _, name = person(r)
    nik = nik_for(r, region, male, birth(r))
    if form16:
        number = nik
    else:
        d = "%02d%06d" % (r.choice([7, 8, 9, 1, 2]), r.randint(0, 999999))
        total = sum(int(c) if i % 2 == 0 else sum(divmod(2 * int(c), 10))
                    for i, c in enumerate(d))
        d += str((10 - total % 10) % 10) + "%03d" % r.randint(1, 999) + "000"
        number = "%s.%s.%s.%s-%s.%s" % (d[:2], d[2:5], d[5:8], d[8], d[9:12], d[12:])
    return {"npwpNumber": number, "name": name, "nik": nik, "address": address(r),
            "city": region[3], "kpp": r.choice(KPP)}


class Card:
    """A card raster at a given scale (pixels per layout unit) with text in
    layout units, a tinted background and a guilloche pattern."""

    def __init__(self, r, scale, tint, ink):
        self.r, self.s = r, scale
        w, h = round(CARD_W * scale), round(CARD_H * scale)
        y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
        a, b = np.array(tint[0], np.float32), np.array(tint[1], np.float32)
        grad = a + (b - a) * (0.6 * x + 0.4 * y)
        self.img = Image.fromarray(grad.astype(np.uint8), "RGB")
        self.draw = ImageDraw.Draw(self.img)
        self.ink = ink
        self.fonts = {}

    def font(self, path, size):
        key = (path, round(size * self.s))
        if key not in self.fonts:
            self.fonts[key] = ImageFont.truetype(FONT_DIR + path, max(6, key[1]))
        return self.fonts[key]

    def guilloche(self, colour, families):
        """Crossing sine curves and a rosette, in pale ink, under the text."""
        s, r = self.s, self.r
        width = max(1, round(0.9 * s))
        for _ in range(families):
            amp, period, phase = r.uniform(6, 22), r.uniform(60, 160), r.uniform(0, 6.3)
            step, tilt = r.uniform(14, 30), r.uniform(-0.25, 0.25)
            for k in range(int(CARD_H / step) + 8):
                base = (k - 4) * step
                pts = [(x * s, (base + tilt * x + amp * math.sin(x / period * 6.28 + phase + k * 0.4))
                        * s) for x in range(-10, CARD_W + 20, 8)]
                self.draw.line(pts, fill=colour, width=width)
        cx, cy, big = r.uniform(250, 650), r.uniform(250, 420), r.uniform(110, 170)
        for k in range(0, 36):
            rr = big * (0.55 + 0.45 * math.cos(k * 0.35))
            pts = []
            for t in range(0, 361, 4):
                a = math.radians(t)
                rad = rr * (0.8 + 0.2 * math.cos(7 * a + k * 0.5))
                pts.append(((cx + rad * math.cos(a)) * s, (cy + rad * math.sin(a)) * s))
            self.draw.line(pts, fill=colour, width=width)

    def text(self, x, y, s, path, size, anchor="la", fill=None):
        self.draw.text((x * self.s, y * self.s), s, font=self.font(path, size),
                       fill=fill or self.ink, anchor=anchor)

    def photo(self, x0, y0, x1, y1):
        """Photo box with a head-and-shoulders silhouette."""
        s, d = self.s, self.draw
        d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], fill=(178, 34, 34) if self.r.random() < 0.5
                    else (40, 90, 170))
        cx, w = (x0 + x1) / 2, x1 - x0
        d.pieslice([(cx - w * 0.42) * s, (y1 - w * 0.38) * s, (cx + w * 0.42) * s,
                    (y1 + w * 0.38) * s], 180, 360, fill=(40, 40, 45))
        d.ellipse([(cx - w * 0.2) * s, (y0 + w * 0.18) * s, (cx + w * 0.2) * s,
                   (y0 + w * 0.72) * s], fill=(150, 110, 85))

    def signature(self, x, y, w):
        """A scribbled signature: a random smooth polyline."""
        r, s = self.r, self.s
        pts, px, py = [], x, y
        for t in range(40):
            px += w / 40
            py = y + 12 * math.sin(t * r.uniform(0.5, 1.1)) + r.uniform(-3, 3)
            pts.append((px * s, py * s))
        self.draw.line(pts, fill=(30, 30, 80), width=max(1, round(1.6 * s)))


def row(card, st, label, value, y, lx=None):
    """One labelled row in the document's colon style."""
    lx = st["lx"] if lx is None else lx
    f, size = st["font"], st["size"]
    mode = st["colon"]
    if mode == "column":
        card.text(lx, y, label, f, size)
        card.text(st["cx"], y, ":", f, size)
        card.text(st["vx"], y, value, f, size)
    elif mode == "none":
        card.text(lx, y, label, f, size)
        card.text(st["vx"], y, value, f, size)
    else:  # inline forms: "Label : value", "Label: value", "Label  :value"
        card.text(lx, y, label + mode + value, f, size)


def draw_ktp(r, t, scale):
    """KTP front in the e-KTP layout, with this document's style draws."""
    card = Card(r, scale, [(200, 222, 242), (226, 238, 250)], (r.randint(10, 45),) * 3)
    card.guilloche((168, 198, 230), r.randint(2, 3))
    body = r.choice(list(BODY_FONTS))
    reg, bold = BODY_FONTS[body]
    st = {"font": reg, "size": r.uniform(19, 23), "lx": r.uniform(18, 32), "cx": r.uniform(205, 225),
          "vx": r.uniform(228, 245),
          "colon": r.choices(["column", "none", " : ", ": ", "  :"], [60, 10, 15, 10, 5])[0]}
    pitch = r.uniform(27, 31)
    card.text(500, 14, "PROVINSI " + t["province"], bold, 26, "ma")
    card.text(500, 46, t["city"], bold, 26, "ma")
    nik_ocra = r.random() < 0.55
    nfont, nsize = (OCRA, r.uniform(27, 32)) if nik_ocra else (bold, r.uniform(26, 31))
    nlabel = "NIK =: " if r.random() < 0.08 else None
    y = 92
    if nlabel:
        card.text(st["lx"], y, nlabel, bold, 27)
        card.text(st["lx"] + 95, y - 2, t["nik"], nfont, nsize)
    else:
        card.text(st["lx"], y, "NIK", bold, 27)
        if st["colon"] != "none":
            card.text(st["cx"], y, ":", bold, 27)
        card.text(st["vx"], y - 2, t["nik"], nfont, nsize)
    y = 92 + r.uniform(44, 52)
    gender_label = r.choice(["Jenis Kelamin", "Jenis kelamin", "Jenis Kelamin"])
    blood_label = r.choice(["Gol. Darah", "Gol Darah", "Gol.Darah"])
    rows = [("Nama", t["name"], None),
            (r.choice(BIRTH_LABELS), "%s, %s" % (t["birthPlace"], t["birthDate"]), None),
            (gender_label, t["gender"], None), ("Alamat", t["address"], None),
            ("RT/RW", t["rtRw"], st["lx"] + 24),
            (r.choice(["Kel/Desa", "Kel / Desa"]), t["village"], st["lx"] + 24),
            ("Kecamatan", t["district"], st["lx"] + 24), ("Agama", t["religion"], None),
            ("Status Perkawinan", t["maritalStatus"], None), ("Pekerjaan", t["occupation"], None),
            ("Kewarganegaraan", t["nationality"], None), ("Berlaku Hingga", t["validUntil"], None)]
    for label, value, lx in rows:
        row(card, st, label, value, y, lx)
        if label is gender_label:
            card.text(st["vx"] + 260, y, "%s : %s" % (blood_label, t["bloodType"]), reg, st["size"])
        y += pitch
    card.photo(745, 108, 955, 372)
    card.text(850, 386, t["city"].replace("KABUPATEN ", "").replace("KOTA ", ""), reg, 17, "ma")
    card.text(850, 410, "%02d-%02d-%d" % (r.randint(1, 28), r.randint(1, 12),
                                          r.randint(2012, 2024)), reg, 17, "ma")
    card.signature(770, 470, 150)
    return card.img, {"bodyFont": body, "nikFont": "OCR-A" if nik_ocra else body + "-Bold",
                      "colon": "NIK =:" if nlabel else st["colon"]}


def draw_npwp(r, t, scale):
    """NPWP card: DJP header band, number, name, NIK, address, KPP."""
    card = Card(r, scale, [(236, 238, 240), (246, 244, 236)], (r.randint(10, 45),) * 3)
    card.guilloche((206, 214, 226), r.randint(1, 2))
    body = r.choice(list(BODY_FONTS))
    reg, bold = BODY_FONTS[body]
    card.draw.rectangle([0, 0, CARD_W * scale, 118 * scale], fill=(24, 58, 120))
    card.draw.ellipse([22 * scale, 14 * scale, 112 * scale, 104 * scale], fill=(236, 184, 40))
    card.text(135, 22, "KEMENTERIAN KEUANGAN REPUBLIK INDONESIA", bold, 25,
              fill=(255, 255, 255))
    card.text(135, 62, "DIREKTORAT JENDERAL PAJAK", bold, 25, fill=(255, 255, 255))
    ocra = r.random() < 0.5
    nfont, nsize = (OCRA, r.uniform(32, 38)) if ocra else (bold, r.uniform(30, 36))
    sep = r.choice([" : ", "  :  ", ": "])
    card.text(40, 150, "NPWP" + sep, bold, 32)
    card.text(40 + r.uniform(120, 150), 148, t["npwpNumber"], nfont, nsize)
    size = r.uniform(22, 26)
    card.text(40, 220, t["name"], bold, size)
    y = 258
    if r.random() < 0.7:
        card.text(40, y, "NIK" + r.choice([" : ", ": "]) + t["nik"], reg, size)
        y += 36
    card.text(40, y, t["address"], reg, size)
    card.text(40, y + 34, t["city"], reg, size)
    card.text(40, 470, t["kpp"], reg, size * 0.9)
    card.text(40, 510, "Tanggal Terdaftar %d %s %d" % (r.randint(1, 28), r.choice(MONTHS),
                                                       r.randint(2005, 2023)), reg, size * 0.9)
    return card.img, {"bodyFont": body, "nikFont": "OCR-A" if ocra else body + "-Bold",
                      "colon": sep.strip() or "none"}


def rounded_mask(size, radius):
    """Alpha of a card with rounded corners."""
    m = Image.new("L", size, 0)
    ImageDraw.Draw(m).rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius, fill=255)
    return m


def perspective_coeffs(dst, src):
    """PIL PERSPECTIVE coefficients mapping output points dst to input src."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return np.linalg.solve(np.array(a, float), np.array(src, float).reshape(8)).tolist()


def table(rng, w, h, kind):
    """Background at the final size: wood, cloth or a plain desk, made at
    1/8 size and enlarged (the final noise adds the fine detail later)."""
    sw, sh = max(8, w // 8), max(8, h // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    n = rng.standard_normal((sh, sw)).astype(np.float32)
    if kind == "wood":
        base = np.array(rng.choice([[120, 80, 50], [160, 120, 80], [80, 55, 40]]), np.float32)
        grain = np.sin(yy * rng.uniform(0.3, 0.7) + 2.5 * np.sin(xx * 0.02)) * 0.12 + 0.06 * n
    elif kind == "cloth":
        base = np.array(rng.choice([[60, 70, 90], [50, 50, 55], [110, 40, 40]]), np.float32)
        grain = 0.08 * n
    else:  # a light desk: low contrast against the card
        base = np.array(rng.choice([[215, 215, 210], [190, 185, 175], [235, 235, 235]]), np.float32)
        grain = 0.03 * n
    small = np.clip(base * (1.0 + grain[..., None]), 0, 255).astype(np.uint8)
    return Image.fromarray(small, "RGB").resize((w, h), Image.BILINEAR)


def lighting(rng, w, h, shadow):
    """Multiplicative light field: a gradient plus, optionally, a soft
    shadow band (a hand or phone) across part of the frame."""
    sw, sh = max(8, w // 16), max(8, h // 16)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx, yy = xx / sw, yy / sh
    ang = rng.uniform(0, 2 * math.pi)
    light = 1.0 - rng.uniform(0.1, 0.3) * (0.5 + 0.5 * (np.cos(ang) * xx + np.sin(ang) * yy))
    if shadow:
        a2 = rng.uniform(0, 2 * math.pi)
        d = np.cos(a2) * (xx - 0.5) + np.sin(a2) * (yy - 0.5) - rng.uniform(-0.25, 0.15)
        depth = rng.uniform(0.3, 0.55)
        light *= 1.0 - depth / (1.0 + np.exp(-d / 0.03))
    img = Image.fromarray((np.clip(light, 0, 1) * 255).astype(np.uint8), "L")
    return img.resize((w, h), Image.BILINEAR)


def compose(r, rng, draw, truth, band, scene):
    """The final frame: size, card placement/perspective, light, blur,
    noise, all at the final resolution.  Returns (RGB image, meta)."""
    lo, hi = BANDS[band]
    long_side = r.randint(lo, hi)
    if scene == "fill":
        occ = r.uniform(0.86, 0.96)
        w = long_side
        h = round(w / 1.585 * r.uniform(1.02, 1.1))
    else:
        portrait = scene == "table" and band == "phone" and r.random() < 0.25
        w, h = (round(long_side * 0.75), long_side) if portrait else (long_side,
                                                                     round(long_side * 0.75))
        occ = r.uniform(*OCCUPANCY[band]) if scene == "table" else r.uniform(0.8, 0.92)
    cw = occ * w
    card, meta = draw(r, truth, cw / CARD_W)
    ch = cw * CARD_H / CARD_W
    ang = math.radians(r.uniform(-4, 4) if scene != "scan" else r.uniform(-1.5, 1.5))
    cx = w / 2 + r.uniform(-1, 1) * max(0, (w - cw) / 2 - 0.05 * w)
    cy = h / 2 + r.uniform(-1, 1) * max(0, (h - ch) / 2 - 0.05 * h)
    jitter = {"table": 0.05, "fill": 0.015, "scan": 0.0}[scene] * cw
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = sx * cw / 2, sy * ch / 2
        corners.append((cx + x * math.cos(ang) - y * math.sin(ang) + r.uniform(-jitter, jitter),
                        cy + x * math.sin(ang) + y * math.cos(ang) + r.uniform(-jitter, jitter)))
    blur = {"vga": (0.3, 0.7), "card": (0.4, 1.0), "phone": (0.8, 2.2)}[band]
    sigma = r.uniform(*blur) * (0.5 if scene == "scan" else 1.0)
    # The card raster is about 1:1 with the frame, so the lens blur is applied
    # to it (and its edge) before the warp: the table is smooth anyway.
    card = card.filter(ImageFilter.GaussianBlur(sigma))
    mask = rounded_mask(card.size, round(0.035 * card.width)).filter(
        ImageFilter.GaussianBlur(sigma))
    kind = "scanner" if scene == "scan" else r.choice(["wood", "cloth", "desk"])
    frame = (Image.new("RGB", (w, h), (244, 244, 242)) if kind == "scanner"
             else table(rng, w, h, kind))
    x0 = max(0, int(min(c[0] for c in corners)))
    y0 = max(0, int(min(c[1] for c in corners)))
    x1 = min(w, int(max(c[0] for c in corners)) + 2)
    y1 = min(h, int(max(c[1] for c in corners)) + 2)
    src = [(0, 0), (card.width, 0), (card.width, card.height), (0, card.height)]
    coeffs = perspective_coeffs([(x - x0, y - y0) for x, y in corners], src)
    box = (x1 - x0, y1 - y0)
    frame.paste(card.transform(box, Image.PERSPECTIVE, coeffs, Image.BICUBIC), (x0, y0),
                mask.transform(box, Image.PERSPECTIVE, coeffs, Image.BILINEAR))
    # Light, then sensor noise (luminance Gaussian + impulse), in one pass at
    # the final size.
    shadow = scene != "scan" and r.random() < 0.5
    px = np.asarray(frame, dtype=np.float32)
    if scene != "scan":
        px *= np.asarray(lighting(rng, w, h, shadow), dtype=np.float32)[..., None] / 255.0
    noise = r.uniform(3, 6) if scene == "scan" else r.uniform(4, 11)
    px += (rng.standard_normal((h, w), dtype=np.float32) * noise + 0.5)[..., None]
    impulse = r.uniform(0.0005, 0.004)
    k = int(impulse * w * h)
    ys, xs = rng.integers(0, h, k), rng.integers(0, w, k)
    px[ys, xs] = rng.choice([0.0, 255.0], k)[:, None]
    np.clip(px, 0, 255, out=px)
    frame = Image.fromarray(px.astype(np.uint8), "RGB")
    meta.update({"width": w, "height": h, "occupancy": round(occ, 3), "table": kind,
                 "shadow": shadow, "blur": round(sigma, 2), "noise": round(noise, 1),
                 "impulse": round(impulse, 4), "rotation": round(math.degrees(ang), 2)})
    return frame, meta


def make(job):
    """One document: (index, band, type, scene, form16, seed, outdir) ->
    its manifest line."""
    i, band, typ, scene, form16, seed, outdir = job
    r = random.Random("%d-%d" % (seed, i))
    rng = np.random.default_rng([seed, i])
    truth = ktp_truth(r) if typ == "KTP" else npwp_truth(r, form16)
    img, meta = compose(r, rng, draw_ktp if typ == "KTP" else draw_npwp, truth,
                        "card" if band == "pdf" else band, scene)
    name = "%s-%s-%04d" % (band, typ.lower(), i)
    q = r.randint(60, 90)
    dpi = {"vga": 72, "card": 96, "phone": 72, "pdf": 300}[band]
    path = os.path.join(outdir, name + ".jpg")
    img.save(path, "JPEG", quality=q, dpi=(dpi, dpi))
    if band == "pdf":
        subprocess.run(["img2pdf", "--nodate", "-o", os.path.join(outdir, name + ".pdf"), path],
                       check=True)
        os.unlink(path)
        name += ".pdf"
    else:
        name += ".jpg"
    meta.update({"quality": q, "dpi": dpi})
    if typ == "KTP":
        keep = truth
    else:
        keep = {"npwpNumber": truth["npwpNumber"], "name": truth["name"]}
    return {"file": name, "type": typ, "band": band, "scene": scene, "meta": meta, "truth": keep}


def jobs_for(seed, per_band, pdfs, outdir):
    """The document list: per band, 2 of 3 KTP; scenes table / fill / scan
    about 6:3:1; half the NPWPs in the 16-digit form."""
    out, i = [], 0
    for band in BANDS:
        for k in range(per_band):
            i += 1
            typ = "NPWP" if k % 3 == 2 else "KTP"
            scene = ["table", "fill", "table", "table", "fill", "table", "fill", "table",
                     "table", "scan"][k % 10]
            out.append((i, band, typ, scene, (k // 3) % 2 == 1, seed, outdir))
    for k in range(pdfs):
        i += 1
        out.append((i, "pdf", "NPWP" if k % 3 == 2 else "KTP", "scan", k % 2 == 1, seed, outdir))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--per-band", type=int, default=100)
    ap.add_argument("--pdfs", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("outdir")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    with Pool(a.jobs) as pool:
        lines = pool.map(make, jobs_for(a.seed, a.per_band, a.pdfs, a.outdir), chunksize=1)
    with open(os.path.join(a.outdir, "manifest.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line, sort_keys=True) + "\n")
    print("gen-photos: %d documents in %s" % (len(lines), a.outdir), file=sys.stderr)


if __name__ == "__main__":
    main()

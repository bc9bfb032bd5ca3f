#!/usr/bin/env python3
"""Generate demo.json, the demo data set of aeo-registry.

Python 3 standard library only. Deterministic: every operator, address and
category is listed below by hand; identifiers, dates and the public flag come
from random.Random instances with fixed integer seeds. Running this script
rewrites demo.json byte for byte identically.

Every identifier is self-checked (check digit recomputed) before writing.
All operators are fictional.

Reference day of the demo: 2026-11-23.
"""

import datetime as dt
import json
import os
import random
import re
import unicodedata

TODAY = dt.date(2026, 11, 23)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.json")

ROLES = {
    "manufacturer", "importer", "exporter", "customs_broker", "carrier",
    "freight_forwarder", "warehouse_operator", "port_operator",
    "terminal_operator", "logistics_operator",
}
CATEGORIES = {"security", "simplification", "full"}

# ---------------------------------------------------------------------------
# Identifier algorithms
# ---------------------------------------------------------------------------


def rut_check(body: str) -> str:
    """Chile RUT: modulo 11, weights 2..7 repeating from the right."""
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    r = 11 - total % 11
    return "0" if r == 11 else "K" if r == 10 else str(r)


def nit_check(body: str) -> str:
    """Colombia NIT (DIAN): weights 3,7,13,... from the right, mod 11."""
    weights = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71]
    total = sum(int(d) * w for d, w in zip(reversed(body), weights))
    r = total % 11
    return str(r if r in (0, 1) else 11 - r)


def ruc_check(body: str) -> str:
    """Peru RUC: weights 5,4,3,2,7,6,5,4,3,2 over the first 10 digits."""
    weights = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    total = sum(int(d) * w for d, w in zip(body, weights))
    r = 11 - total % 11
    return "0" if r == 10 else "1" if r == 11 else str(r)


RFC_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ \u00d1"


def rfc_check(body: str) -> str:
    """Mexico RFC (SAT) check digit over the first 11 (company) or 12 chars."""
    padded = ("   " + body)[-12:]
    total = sum(RFC_ALPHABET.index(c) * (13 - i) for i, c in enumerate(padded))
    return RFC_ALPHABET[(11 - total) % 11]


def lei_to_int(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s))


def lei_check(body18: str) -> str:
    """ISO 17442 / ISO 7064 mod 97-10 check digits."""
    return "%02d" % (98 - lei_to_int(body18 + "00") % 97)


def es_nif_entity_control(digits7: str) -> str:
    """Spanish entity NIF control letter (used for 'N' non-resident NIFs)."""
    even = sum(int(digits7[i]) for i in (1, 3, 5))
    odd = sum(sum(divmod(2 * int(digits7[i]), 10)) for i in (0, 2, 4, 6))
    return "JABCDEFGHI"[(10 - (even + odd) % 10) % 10]


def validate_identifier(scheme: str, value: str) -> None:
    """Recompute and assert the check digits of one normalised identifier."""
    if scheme == "CL-RUT":
        m = re.fullmatch(r"(\d{7,8})-([0-9K])", value)
        assert m, value
        assert rut_check(m.group(1)) == m.group(2), value
    elif scheme == "CO-NIT":
        m = re.fullmatch(r"(\d{9})-(\d)", value)
        assert m, value
        assert nit_check(m.group(1)) == m.group(2), value
    elif scheme == "PE-RUC":
        assert re.fullmatch(r"20\d{9}", value), value
        assert ruc_check(value[:10]) == value[10], value
    elif scheme == "MX-RFC":
        m = re.fullmatch(r"([A-Z&\u00d1]{3})(\d{6})([A-Z0-9]{3})", value)
        assert m, value
        dt.datetime.strptime(m.group(2), "%y%m%d")  # a real date
        assert rfc_check(value[:-1]) == value[-1], value
    elif scheme == "EORI":
        assert re.fullmatch(r"[A-Z]{2}[A-Z0-9]{1,15}", value), value
        if value.startswith("ESN"):
            assert es_nif_entity_control(value[3:10]) == value[10], value
    elif scheme == "LEI":
        assert re.fullmatch(r"[A-Z0-9]{18}\d{2}", value), value
        assert lei_to_int(value) % 97 == 1, value
    else:
        raise AssertionError("unknown scheme " + scheme)


# ---------------------------------------------------------------------------
# Identifier generators (all values unique across the data set)
# ---------------------------------------------------------------------------

USED = set()


def unique(make):
    for _ in range(1000):
        v = make()
        if v not in USED:
            USED.add(v)
            return v
    raise RuntimeError("could not draw a unique identifier")


def new_rut(rng, name):
    # Large older corporations (S.A.) carry 96/99 RUTs, newer SpA/Ltda 76/77.
    prefix = rng.choice(["96", "99"]) if name.endswith("S.A.") else rng.choice(["76", "77"])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(6))
    return body + "-" + rut_check(body)


def new_nit(rng, name):
    prefix = rng.choice(["900", "901"]) if "S.A.S." in name else rng.choice(["800", "830", "860", "890"])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(6))
    return body + "-" + nit_check(body)


def new_ruc(rng, name):
    body = "20" + rng.choice("1456") + "".join(rng.choice("0123456789") for _ in range(7))
    return body + ruc_check(body)


RFC_STOP = {"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y", "E", "EN", "PARA", "POR", "CON",
            "SA", "CV", "S", "A", "C", "V"}
HOMOCLAVE = "123456789ABCDEFGHIJKLMNPQRSTUVWXYZ"


def strip_accents(s):
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def rfc_letters(name):
    base = name.split(" S.A. de C.V.")[0]
    words = [w for w in re.split(r"[^A-Z]+", strip_accents(base).upper()) if w and w not in RFC_STOP]
    if len(words) >= 3:
        return words[0][0] + words[1][0] + words[2][0]
    if len(words) == 2:
        return words[0][0] + words[1][:2]
    return words[0][:3]


def new_rfc(rng, name):
    letters = rfc_letters(name)
    founded = dt.date(1984, 1, 1) + dt.timedelta(days=rng.randrange(0, 12400))
    body = letters + founded.strftime("%y%m%d") + rng.choice(HOMOCLAVE) + rng.choice(HOMOCLAVE)
    return body + rfc_check(body)


LOU_PREFIXES = ["5493", "2549", "9845", "3358", "8945"]
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def new_lei(rng):
    body = rng.choice(LOU_PREFIXES) + "00" + "".join(rng.choice(ALNUM) for _ in range(12))
    return body + lei_check(body)


def new_eori(rng, country):
    if country == "ES":  # non-resident NIF: N + 7 digits + control letter
        d = "".join(rng.choice("0123456789") for _ in range(7))
        return "ESN" + d + es_nif_entity_control(d)
    if country == "NL":
        return "NL" + rng.choice("89") + "".join(rng.choice("0123456789") for _ in range(8))
    if country == "DE":
        return "DE" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(6))
    if country == "BE":
        return "BE0" + rng.choice("4567") + "".join(rng.choice("0123456789") for _ in range(8))
    raise ValueError(country)


# ---------------------------------------------------------------------------
# Administrations, users, MRAs
# ---------------------------------------------------------------------------

ADMINISTRATIONS = [
    {"code": "CL", "name": "Servicio Nacional de Aduanas", "country": "CL",
     "programme": "Operador Económico Autorizado (OEA) Chile"},
    {"code": "CO", "name": "Dirección de Impuestos y Aduanas Nacionales – DIAN", "country": "CO",
     "programme": "Operador Económico Autorizado (OEA) Colombia"},
    {"code": "MX", "name": "Agencia Nacional de Aduanas de México – ANAM", "country": "MX",
     "programme": "Operador Económico Autorizado (OEA) México"},
    {"code": "PE", "name": "Superintendencia Nacional de Aduanas y de Administración Tributaria – SUNAT",
     "country": "PE", "programme": "Operador Económico Autorizado (OEA) Perú"},
]
CODES = [a["code"] for a in ADMINISTRATIONS]

STAFF = {
    "CL": [("customs_admin", "Francisca Riquelme Soto"), ("customs_officer", "Matías Contreras Rojas"),
           ("border_officer", "Javiera Muñoz Araya"), ("auditor", "Cristóbal Fuentes Lagos")],
    "CO": [("customs_admin", "Andrea Patricia Rincón Gómez"), ("customs_officer", "Juan Camilo Restrepo Ossa"),
           ("border_officer", "Luisa Fernanda Cárdenas Mejía"), ("auditor", "Andrés Felipe Quintero Díaz")],
    "MX": [("customs_admin", "Guadalupe Hernández Ortiz"), ("customs_officer", "José Luis Ramírez Treviño"),
           ("border_officer", "Ximena Salazar Castañeda"), ("auditor", "Alejandro Domínguez Villarreal")],
    "PE": [("customs_admin", "Rosa María Quispe Huamán"), ("customs_officer", "Carlos Alberto Vargas Paredes"),
           ("border_officer", "Milagros Chávez Rojas"), ("auditor", "Renzo Mendoza Castillo")],
}
EMAIL_PREFIX = {"customs_admin": "admin", "customs_officer": "officer",
                "border_officer": "border", "auditor": "auditor"}

PA_TITLE = "Acuerdo de Reconocimiento Mutuo de los Programas OEA de la Alianza del Pacífico"

# ---------------------------------------------------------------------------
# Operators: (name, category, roles, street, city, postal_code, extras)
# extras: "LEI", "EORI:<cc>", "SHARED" (the group certified in CL and PE)
# ---------------------------------------------------------------------------

OPERATORS = {
    "CL": [
        ("Exportadora Andina SpA", "security", ["exporter", "carrier"], "Av. Apoquindo 4501, Of. 1203, Las Condes", "Santiago", "7550000", []),
        ("Viña Santa Clara del Maipo S.A.", "full", ["manufacturer", "exporter"], "Camino a Pirque 2350", "Puente Alto", "8150000", ["EORI:NL"]),
        ("Minera Cordillera Norte SpA", "security", ["exporter"], "Av. Grecia 1860", "Antofagasta", "1240000", ["LEI"]),
        ("Frutícola Valle del Aconcagua Ltda.", "full", ["exporter"], "Ruta 60 CH Km 12", "Los Andes", "2100000", ["EORI:ES"]),
        ("Agencia de Aduanas Rodrigo Valdés y Cía. Ltda.", "simplification", ["customs_broker"], "Blanco 1131, Of. 402", "Valparaíso", "2340000", []),
        ("Transportes Australes Ltda.", "security", ["carrier"], "Av. Presidente Ibáñez 1855", "Puerto Montt", "5480000", []),
        ("Salmones Patagonia Austral S.A.", "full", ["manufacturer", "exporter"], "Av. Diego Portales 860", "Puerto Montt", "5480000", ["EORI:NL"]),
        ("Terminal Portuario San Antonio Sur S.A.", "security", ["port_operator", "terminal_operator"], "Av. Ramón Barros Luco 1613", "San Antonio", "2660000", ["LEI"]),
        ("Almacenes Extraportuarios del Pacífico SpA", "security", ["warehouse_operator"], "Camino La Pólvora 4000", "Valparaíso", "2340000", []),
        ("Grupo Logístico Pacífico Sur S.A.", "full", ["logistics_operator", "freight_forwarder"], "Av. Américo Vespucio 1501, Pudahuel", "Santiago", "9020000", ["SHARED"]),
        ("Importadora Tecnológica Austral SpA", "simplification", ["importer"], "Av. Providencia 1760, Of. 802, Providencia", "Santiago", "7500000", []),
        ("Celulosa y Maderas del Biobío S.A.", "full", ["manufacturer", "exporter"], "Av. Pedro de Valdivia 1250", "Concepción", "4030000", ["LEI", "EORI:DE"]),
        ("Cerezas del Maule Exportaciones SpA", "security", ["exporter"], "Camino a San Clemente Km 4", "Talca", "3460000", ["EORI:ES"]),
        ("Naviera Cabo de Hornos S.A.", "security", ["carrier"], "Av. Errázuriz 1178, Of. 71", "Valparaíso", "2340000", []),
        ("Agrícola Los Nogales de Curicó Ltda.", "simplification", ["exporter"], "Av. Manso de Velasco 1450", "Curicó", "3340000", []),
        ("Distribuidora Farmacéutica del Sur S.A.", "full", ["importer", "warehouse_operator"], "Av. Lo Espejo 1565", "San Bernardo", "8050000", []),
        ("Cobre y Derivados Atacama S.A.", "security", ["manufacturer", "exporter"], "Av. Copayapu 2970", "Copiapó", "1530000", ["LEI"]),
        ("Forwarding Andes Chile Ltda.", "full", ["freight_forwarder"], "Av. Presidente Riesco 5711, Of. 1104, Las Condes", "Santiago", "7561114", []),
        ("Vinos del Valle de Colchagua SpA", "full", ["exporter", "manufacturer"], "Carretera del Vino I-50 Km 37", "Santa Cruz", "3130000", ["EORI:BE"]),
        ("Zona Franca Logística Iquique S.A.", "security", ["warehouse_operator", "logistics_operator"], "Recinto Amurallado, Manzana 6, Galpón 12", "Iquique", "1100000", []),
        ("Agencia de Aduanas Carolina Muñoz y Cía. Ltda.", "simplification", ["customs_broker"], "Prat 827, Of. 501", "Valparaíso", "2340000", []),
        ("Alimentos Marinos de Coquimbo S.A.", "security", ["manufacturer", "exporter"], "Av. Costanera 3500", "Coquimbo", "1780000", []),
        ("Transporte Internacional Los Libertadores SpA", "security", ["carrier"], "Av. Argentina 2350", "Los Andes", "2100000", []),
        ("Arándanos del Ñuble Ltda.", "full", ["exporter"], "Camino a Bulnes Km 6", "Chillán", "3780000", ["EORI:NL"]),
        ("Autopartes Quilicura SpA", "simplification", ["importer"], "Av. Lo Echevers 550, Quilicura", "Santiago", "8700000", []),
        ("Terminal de Graneles del Norte S.A.", "security", ["terminal_operator", "port_operator"], "Av. San Martín 400", "Mejillones", "1310000", []),
        ("Comercializadora Textil Andes Ltda.", "security", ["importer"], "Av. Independencia 1250, Independencia", "Santiago", "8380000", []),
        ("Sociedad Vinícola Casablanca S.A.", "full", ["exporter", "manufacturer"], "Ruta 68 Km 63", "Casablanca", "2480000", ["EORI:DE"]),
        ("Lácteos del Llanquihue S.A.", "security", ["manufacturer", "exporter"], "Av. Vicente Pérez Rosales 1450", "Puerto Varas", "5550000", []),
        ("Courier Express Cono Sur SpA", "full", ["carrier", "freight_forwarder"], "Av. Américo Vespucio 901, Pudahuel", "Santiago", "9020000", []),
    ],
    "CO": [
        ("Café de Origen Huila S.A.S.", "full", ["exporter", "manufacturer"], "Calle 8 # 5-45", "Neiva", "410001", ["EORI:DE"]),
        ("Flores de la Sabana S.A.S.", "security", ["exporter"], "Km 2 Vía Funza-Siberia", "Funza", "250020", ["EORI:NL"]),
        ("Terminal Marítima del Caribe S.A.", "security", ["port_operator", "terminal_operator"], "Zona Industrial de Mamonal Km 5", "Cartagena", "130013", ["LEI"]),
        ("Agencia de Aduanas Comercio Global S.A.S. Nivel 1", "simplification", ["customs_broker"], "Carrera 7 # 71-21, Of. 902", "Bogotá", "110231", []),
        ("Transportes Cordillera Central S.A.S.", "security", ["carrier"], "Autopista Sur # 47-60", "Itagüí", "055411", []),
        ("Textiles Antioqueños S.A.", "full", ["manufacturer", "exporter"], "Carrera 48 # 10-45", "Medellín", "050021", ["LEI"]),
        ("Banano Exportador de Urabá S.A.S.", "security", ["exporter"], "Calle 100 # 103-45", "Apartadó", "057840", ["EORI:BE"]),
        ("Logística Integral del Pacífico S.A.S.", "full", ["logistics_operator", "warehouse_operator"], "Avenida Portuaria, Edificio CAM, Piso 3", "Buenaventura", "764501", []),
        ("Autopartes Andinas de Colombia S.A.", "security", ["manufacturer", "importer"], "Calle 13 # 68D-52", "Bogotá", "110931", []),
        ("Carbones del Cesar S.A.", "security", ["exporter"], "Carrera 9 # 16-20", "Valledupar", "200001", ["LEI"]),
        ("Importadora Farmacéutica Nacional S.A.S.", "simplification", ["importer"], "Avenida Carrera 68 # 22-45", "Bogotá", "111611", []),
        ("Agencia de Carga Internacional Aerocarga S.A.S.", "full", ["freight_forwarder"], "Avenida El Dorado # 106-39, Bodega 4", "Bogotá", "110911", []),
        ("Aguacates Hass del Eje Cafetero S.A.S.", "full", ["exporter"], "Km 7 Vía Pereira-Cerritos", "Pereira", "660004", ["EORI:ES"]),
        ("Alimentos Procesados del Valle S.A.", "security", ["manufacturer", "exporter"], "Calle 15 # 26-101, Acopi", "Yumbo", "760502", []),
        ("Transporte Fluvial del Magdalena S.A.S.", "simplification", ["carrier"], "Vía 40 # 71-197", "Barranquilla", "080001", []),
        ("Depósito Aduanero Zona Franca Bogotá S.A.S.", "security", ["warehouse_operator"], "Carrera 106 # 15A-25, Zona Franca", "Bogotá", "110921", []),
        ("Cacao Fino de Santander S.A.S.", "full", ["exporter", "manufacturer"], "Calle 36 # 27-52", "Bucaramanga", "680003", ["EORI:NL"]),
        ("Química Industrial de la Costa S.A.", "security", ["manufacturer", "importer"], "Vía 40 # 85-470", "Barranquilla", "080020", ["LEI"]),
        ("Agencia de Aduanas Intercomex Andina S.A.S. Nivel 1", "simplification", ["customs_broker"], "Calle 26 # 69-76, Of. 1101", "Bogotá", "111071", []),
        ("Café Especial Sierra Nevada S.A.S.", "security", ["exporter"], "Calle 22 # 3-16", "Santa Marta", "470004", ["EORI:DE"]),
        ("Operador Portuario Buenaventura Express S.A.S.", "security", ["port_operator"], "Calle 2 # 3-17", "Buenaventura", "764501", []),
        ("Confecciones Moda Pereira S.A.S.", "simplification", ["manufacturer", "exporter"], "Carrera 7 # 19-28", "Pereira", "660003", []),
        ("Cementos y Agregados del Norte S.A.", "full", ["manufacturer", "exporter"], "Zona Industrial de Mamonal Km 9", "Cartagena", "130013", []),
        ("Transportadora Nacional de Contenedores S.A.S.", "security", ["carrier", "logistics_operator"], "Calle 80 # 69Q-50", "Bogotá", "111061", []),
        ("Frutas Exóticas de Colombia S.A.S.", "full", ["exporter"], "Km 1,5 Vía Rionegro-Aeropuerto", "Rionegro", "054047", ["EORI:NL"]),
        ("Plásticos Técnicos de Occidente S.A.", "security", ["manufacturer"], "Carrera 1 # 46-101", "Cali", "760001", []),
        ("Electrodomésticos Importados del Caribe S.A.S.", "simplification", ["importer"], "Carrera 53 # 76-115", "Barranquilla", "080020", []),
        ("Petroquímica del Sinú S.A.", "full", ["manufacturer", "exporter"], "Calle 30 # 12-45", "Montería", "230001", []),
        ("Almacenadora Logística Andina S.A.", "security", ["warehouse_operator"], "Autopista Medellín-Bogotá Km 35", "Rionegro", "054040", []),
        ("Cafés Tostados de Manizales S.A.S.", "full", ["manufacturer", "exporter"], "Avenida Kevin Ángel # 70-75", "Manizales", "170004", ["EORI:ES"]),
    ],
    "MX": [
        ("Autopartes del Bajío S.A. de C.V.", "full", ["manufacturer", "exporter"], "Blvd. Bernardo Quintana 4100, Col. Álamos 3a Sección", "Querétaro", "76160", ["LEI"]),
        ("Aguacates Selectos de Michoacán S.A. de C.V.", "security", ["exporter"], "Calz. La Fuente 1200, Col. Ramón Farías", "Uruapan", "60150", []),
        ("Tequilera Los Altos de Jalisco S.A. de C.V.", "full", ["manufacturer", "exporter"], "Carretera Guadalajara-Tepatitlán Km 68", "Tepatitlán de Morelos", "47600", ["EORI:ES"]),
        ("Servicios Aduanales del Golfo S.A. de C.V.", "simplification", ["customs_broker"], "Av. Salvador Díaz Mirón 1102, Col. Centro", "Veracruz", "91700", []),
        ("Transportes Refrigerados del Norte S.A. de C.V.", "security", ["carrier"], "Av. Lincoln 3400, Col. Mitras Norte", "Monterrey", "64320", []),
        ("Electrónica Fronteriza de Tijuana S.A. de C.V.", "security", ["manufacturer", "importer"], "Blvd. Insurgentes 18850, Parque Industrial Pacífico", "Tijuana", "22640", []),
        ("Terminal Especializada de Contenedores Manzanillo S.A. de C.V.", "security", ["terminal_operator", "port_operator"], "Av. Teniente Azueta 9, Col. Burócrata", "Manzanillo", "28250", ["LEI"]),
        ("Aceros Planos de Coahuila S.A. de C.V.", "full", ["manufacturer", "exporter"], "Blvd. Isidro López Zertuche 4100, Col. Universidad", "Saltillo", "25260", []),
        ("Logística Integral Nuevo Laredo S.A. de C.V.", "full", ["logistics_operator", "warehouse_operator"], "Carretera Nacional Km 13.5, Parque Industrial Oradel", "Nuevo Laredo", "88295", []),
        ("Cervecería Artesanal del Pacífico S.A. de C.V.", "simplification", ["manufacturer", "exporter"], "Av. Gabriel Leyva 1450, Col. Centro", "Mazatlán", "82000", []),
        ("Comercializadora de Textiles Puebla S.A. de C.V.", "simplification", ["importer"], "Calle 11 Sur 2504, Col. Chulavista", "Puebla", "72420", []),
        ("Consolidadora de Carga Aérea de México S.A. de C.V.", "full", ["freight_forwarder"], "Av. Capitán Carlos León s/n, Col. Peñón de los Baños", "Ciudad de México", "15620", []),
        ("Berries Finos de Jalisco S.A. de C.V.", "security", ["exporter"], "Carretera Guadalajara-Morelia Km 42", "Jocotepec", "45800", ["EORI:NL"]),
        ("Vidrio y Envases de Monterrey S.A. de C.V.", "full", ["manufacturer", "exporter"], "Av. Ruiz Cortines 2333 Pte., Col. Pedro Lozano", "Monterrey", "64400", ["LEI"]),
        ("Almacenes Fiscales del Centro S.A. de C.V.", "security", ["warehouse_operator"], "Av. 5 de Febrero 2125, Zona Industrial Benito Juárez", "Querétaro", "76120", []),
        ("Farmacéutica Importadora del Valle de México S.A. de C.V.", "simplification", ["importer"], "Calz. de Tlalpan 1924, Col. Country Club", "Ciudad de México", "04220", []),
        ("Autotransportes Carga Pesada del Centro S.A. de C.V.", "security", ["carrier"], "Carretera Federal 57 Km 115, Zona Industrial", "San Luis Potosí", "78395", []),
        ("Calzado y Pieles de León S.A. de C.V.", "full", ["manufacturer", "exporter"], "Blvd. Adolfo López Mateos 3401 Ote., Col. Julián de Obregón", "León", "37290", ["EORI:DE"]),
        ("Mineras Unidas de Sonora S.A. de C.V.", "security", ["exporter"], "Blvd. Luis Encinas 520, Col. Centro", "Hermosillo", "83000", []),
        ("Despachos Aduaneros de la Frontera S.A. de C.V.", "simplification", ["customs_broker"], "Av. Tecnológico 1770, Col. Partido Escobedo", "Ciudad Juárez", "32330", []),
        ("Maquiladora de Arneses Chihuahua S.A. de C.V.", "full", ["manufacturer", "importer", "exporter"], "Av. Industrias 7501, Complejo Industrial Chihuahua", "Chihuahua", "31136", []),
        ("Operadora Portuaria del Golfo S.A. de C.V.", "security", ["port_operator"], "Av. Marina Mercante 210, Col. Centro", "Veracruz", "91700", []),
        ("Café de Altura de Chiapas S.A. de C.V.", "full", ["exporter"], "4a Av. Norte 28, Col. Centro", "Tapachula", "30700", ["EORI:DE"]),
        ("Química Especializada de Tampico S.A. de C.V.", "security", ["manufacturer", "importer"], "Blvd. Adolfo López Mateos 2800, Col. Lomas de Rosales", "Tampico", "89100", []),
        ("Envíos Express Transfronterizos S.A. de C.V.", "full", ["carrier", "freight_forwarder"], "Av. Revolución 1267, Zona Centro", "Tijuana", "22000", []),
        ("Dispositivos Médicos de Baja California S.A. de C.V.", "security", ["manufacturer", "exporter"], "Calle Valle del Sur 200, Parque Industrial El Florido", "Tijuana", "22244", ["EORI:BE"]),
        ("Importadora de Maquinaria Agrícola del Norte S.A. de C.V.", "simplification", ["importer"], "Av. Constitución 2050 Ote., Col. Centro", "Monterrey", "64000", []),
        ("Mangos y Frutas Tropicales de Sinaloa S.A. de C.V.", "security", ["exporter"], "Carretera Culiacán-Eldorado Km 8", "Culiacán", "80300", []),
        ("Almacenadora y Distribuidora del Pacífico S.A. de C.V.", "full", ["warehouse_operator", "logistics_operator"], "Av. Vallarta 6503, Col. Ciudad Granja", "Zapopan", "45010", []),
        ("Componentes Aeroespaciales de Querétaro S.A. de C.V.", "full", ["manufacturer", "exporter"], "Carretera Estatal 200 Km 22.5, Parque Aeroespacial", "Colón", "76270", ["LEI"]),
    ],
    "PE": [
        ("Agroexportadora Valle de Ica S.A.C.", "full", ["exporter"], "Av. Los Maestros 1250", "Ica", "11001", ["EORI:ES"]),
        ("Minera Los Andes del Sur S.A.", "security", ["exporter"], "Av. Ejército 710, Yanahuara", "Arequipa", "04013", ["LEI"]),
        ("Espárragos del Norte S.A.C.", "security", ["manufacturer", "exporter"], "Carretera Panamericana Norte Km 562", "Trujillo", "13011", ["EORI:NL"]),
        ("Agencia de Aduanas Callao Global S.A.C.", "simplification", ["customs_broker"], "Av. Elmer Faucett 2851, Of. 305", "Callao", "07031", []),
        ("Transportes Andinos del Sur E.I.R.L.", "security", ["carrier"], "Av. Parra 305, Cercado", "Arequipa", "04001", []),
        ("Grupo Logístico Pacífico Sur S.A., Sucursal del Perú", "full", ["logistics_operator", "freight_forwarder"], "Av. Néstor Gambetta 8585", "Callao", "07041", ["SHARED"]),
        ("Café Orgánico Chanchamayo S.A.C.", "full", ["exporter"], "Jr. Tarma 456", "La Merced", "12856", ["EORI:DE"]),
        ("Pesquera Mar de Grau S.A.", "security", ["manufacturer", "exporter"], "Av. Los Pescadores 215", "Paita", "20501", []),
        ("Terminal Portuario Multipropósito del Sur S.A.", "security", ["port_operator", "terminal_operator"], "Malecón Costanera 800", "Ilo", "18601", ["LEI"]),
        ("Textiles Gamarra Export S.A.C.", "simplification", ["manufacturer", "exporter"], "Jr. Gamarra 1050, La Victoria", "Lima", "15018", []),
        ("Importaciones Tecnológicas del Perú S.A.C.", "simplification", ["importer"], "Av. Javier Prado Este 4600, Of. 1201, Santiago de Surco", "Lima", "15023", []),
        ("Almacenes Aduaneros del Callao S.A.", "security", ["warehouse_operator"], "Av. Argentina 2833", "Callao", "07001", []),
        ("Mangos y Paltas de Piura S.A.C.", "full", ["exporter"], "Carretera Piura-Sullana Km 6", "Piura", "20001", ["EORI:NL"]),
        ("Cementos Pacífico Norte S.A.", "full", ["manufacturer"], "Av. Industrial 1200", "Chiclayo", "14001", ["LEI"]),
        ("Uvas de Mesa del Sur Chico S.A.C.", "security", ["exporter"], "Carretera Panamericana Sur Km 198", "Chincha Alta", "11701", ["EORI:ES"]),
        ("Agencia de Carga Internacional Lima Cargo E.I.R.L.", "full", ["freight_forwarder"], "Av. Tomás Valle 1580, Los Olivos", "Lima", "15304", []),
        ("Arándanos de La Libertad S.A.C.", "full", ["exporter"], "Av. América Sur 3145", "Trujillo", "13008", ["EORI:BE"]),
        ("Transportes Chiclayo Cargo E.I.R.L.", "simplification", ["carrier"], "Av. Augusto B. Leguía 1450", "Chiclayo", "14001", []),
        ("Quinua y Granos Andinos S.A.C.", "security", ["exporter"], "Av. Simón Bolívar 980", "Puno", "21001", []),
        ("Operador Logístico Lurín S.A.C.", "security", ["logistics_operator", "warehouse_operator"], "Antigua Panamericana Sur Km 38.5", "Lurín", "15823", []),
        ("Cacao Amazónico de San Martín S.A.C.", "full", ["exporter", "manufacturer"], "Jr. Ramón Castilla 320", "Tarapoto", "22201", ["EORI:NL"]),
        ("Depósito Temporal Aeroportuario Lima S.A.", "security", ["warehouse_operator", "terminal_operator"], "Av. Elmer Faucett 3970", "Callao", "07031", []),
        ("Agencia de Aduanas Rímac Despachos S.A.C.", "simplification", ["customs_broker"], "Av. Guardia Chalaca 1815", "Callao", "07021", []),
        ("Químicos Industriales del Pacífico S.A.", "security", ["importer", "manufacturer"], "Av. Argentina 4793, Carmen de la Legua", "Callao", "07006", []),
        ("Naviera Andina del Pacífico S.A.", "security", ["carrier"], "Av. Contralmirante Mora 570", "Callao", "07021", []),
        ("Alpaca Fibras del Sur S.A.", "full", ["manufacturer", "exporter"], "Av. Alfonso Ugarte 302, Cercado", "Arequipa", "04001", ["EORI:DE"]),
        ("Importadora Motores del Norte S.A.C.", "security", ["importer"], "Av. Sánchez Cerro 1920", "Piura", "20001", []),
        ("Frutos Secos de Tacna E.I.R.L.", "simplification", ["exporter"], "Av. Bolognesi 1450", "Tacna", "23001", []),
        ("Jengibre y Cúrcuma de la Selva Central S.A.C.", "full", ["exporter"], "Av. Circunvalación 250", "La Merced", "12856", ["EORI:NL"]),
        ("Couriers Internacionales del Perú S.A.C.", "security", ["carrier", "freight_forwarder"], "Av. Elmer Faucett 3400", "Callao", "07031", []),
    ],
}

# Status plan per administration: certificate index (1-based) -> kind.
# Everything not listed is active. "expired" stays status "active" in the
# file, with valid_until in the past; "future" is active, valid from 2027-02-01.
STATUS_PLAN = {
    "CL": {5: "expired", 19: "expired", 29: "expired", 7: "suspended", 15: "suspended", 24: "suspended",
           11: "revoked", 27: "revoked"},
    "CO": {5: "expired", 22: "expired", 28: "expired", 7: "suspended", 18: "suspended", 24: "suspended",
           11: "revoked", 26: "revoked"},
    "MX": {5: "expired", 19: "expired", 29: "expired", 10: "suspended", 18: "suspended", 24: "suspended",
           11: "revoked", 27: "revoked", 30: "future"},
    "PE": {5: "expired", 19: "expired", 29: "expired", 7: "suspended", 10: "suspended", 24: "suspended",
           16: "revoked", 27: "revoked"},
}

SUSPENSION_REASONS = {
    "CL": ["Investigación por discrepancias en declaraciones de exportación",
           "Hallazgo de carga no declarada en contenedor; investigación en curso",
           "Observaciones de seguridad no subsanadas en la validación de seguimiento"],
    "CO": ["Investigación por presunta subfacturación en declaraciones de importación",
           "Incumplimiento de requisitos mínimos de seguridad detectado en visita de control",
           "Security breach: unauthorised access to the container yard under investigation"],
    "MX": ["Suspensión a solicitud del operador por reubicación de su planta",
           "Procedimiento administrativo en materia aduanera en curso por infracción grave",
           "Falta de actualización del perfil de seguridad tras cambio de instalaciones"],
    "PE": ["Deudas tributarias aduaneras exigibles pendientes de pago",
           "Investigación por discrepancias en declaraciones de exportación",
           "Hallazgo de sustancias no declaradas en la carga; investigación en curso"],
}
REVOCATION_REASONS = {
    "CL": ["Uso de documentación falsa en el proceso de renovación",
           "Incumplimiento reiterado de las condiciones del programa OEA"],
    "CO": ["Cancelación de la autorización por sanción firme por contrabando",
           "Cancelación por renuncia voluntaria del operador"],
    "MX": ["Cancelación por cese de actividades y baja en el RFC",
           "Revocation: final conviction of a legal representative for smuggling"],
    "PE": ["Cancelación por incumplimiento reiterado de los requisitos de seguridad",
           "Cancelación por cese definitivo de actividades"],
}

SEEDS = {"CL": 56001, "CO": 57001, "MX": 52001, "PE": 51001}


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------


def add_years_minus_day(d: dt.date, years: int) -> dt.date:
    try:
        end = d.replace(year=d.year + years)
    except ValueError:  # 29 February
        end = d.replace(year=d.year + years, day=28)
    return end - dt.timedelta(days=1)


def rand_date(rng, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------


def build():
    shared_rng = random.Random(4242)
    shared_lei = unique(lambda: new_lei(shared_rng))

    certificates = []
    for code in CODES:
        rng = random.Random(SEEDS[code])
        ops = OPERATORS[code]
        plan = STATUS_PLAN[code]
        assert len(ops) == 30, code
        public_idx = set(rng.sample(range(2, 31), 10))
        susp_reasons = list(SUSPENSION_REASONS[code])
        rev_reasons = list(REVOCATION_REASONS[code])
        for i, (name, category, roles, street, city, postal, extras) in enumerate(ops, start=1):
            assert category in CATEGORIES and roles and set(roles) <= ROLES and len(roles) <= 3
            number = "%s-OEA-%04d" % (code, i)
            kind = plan.get(i, "active")

            # National identifier
            if code == "CL" and i == 1:
                nat = "76086428-5"
                USED.add(nat)
                scheme = "CL-RUT"
            elif code == "CL":
                nat, scheme = unique(lambda: new_rut(rng, name)), "CL-RUT"
            elif code == "CO":
                nat, scheme = unique(lambda: new_nit(rng, name)), "CO-NIT"
            elif code == "MX":
                nat, scheme = unique(lambda: new_rfc(rng, name)), "MX-RFC"
            else:
                nat, scheme = unique(lambda: new_ruc(rng, name)), "PE-RUC"
            identifiers = [{"scheme": scheme, "value": nat}]
            for extra in extras:
                if extra == "SHARED":
                    identifiers.append({"scheme": "LEI", "value": shared_lei})
                elif extra == "LEI":
                    identifiers.append({"scheme": "LEI", "value": unique(lambda: new_lei(rng))})
                elif extra.startswith("EORI:"):
                    cc = extra.split(":")[1]
                    identifiers.append({"scheme": "EORI", "value": unique(lambda: new_eori(rng, cc))})
                else:
                    raise ValueError(extra)

            # Dates and status
            status, reason, changed = "active", None, None
            if code == "CL" and i == 1:
                valid_from = dt.date(2024, 1, 15)
            elif kind == "active":
                valid_from = rand_date(rng, dt.date(2024, 1, 2), dt.date(2026, 10, 30))
            elif kind == "future":
                valid_from = dt.date(2027, 2, 1)
            elif kind == "expired":
                valid_from = rand_date(rng, dt.date(2022, 1, 3), dt.date(2023, 2, 27))
            else:  # suspended or revoked: certified earlier, changed in 2026
                valid_from = rand_date(rng, dt.date(2023, 12, 1), dt.date(2025, 9, 30))
                status = kind
                reason = (susp_reasons if kind == "suspended" else rev_reasons).pop(0)
                changed = rand_date(rng, max(valid_from + dt.timedelta(days=90), dt.date(2026, 1, 5)),
                                    dt.date(2026, 11, 18))
            valid_until = add_years_minus_day(valid_from, 3)

            if kind == "active":
                assert valid_from <= TODAY and valid_until > dt.date(2026, 12, 31), number
            if kind == "expired":
                assert dt.date(2025, 1, 1) <= valid_until < dt.date(2026, 4, 1), number
            if kind in ("suspended", "revoked"):
                assert valid_from < changed <= TODAY < valid_until, number

            certificates.append({
                "administration": code,
                "number": number,
                "category": category,
                "roles": roles,
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "operator": {
                    "name": name,
                    "identifiers": identifiers,
                    "address": {"street": street, "city": city, "postal_code": postal, "country": code},
                    "public": "SHARED" in extras or i in public_idx,
                },
                "status": status,
                "status_reason": reason,
                "status_changed_on": changed.isoformat() if changed else None,
            })

    # Users
    users = []
    for code in CODES:
        for role, display in STAFF[code]:
            users.append({"email": "%s@%s.demo.aeo" % (EMAIL_PREFIX[role], code.lower()), "role": role,
                          "administration": code, "display_name": display, "operator_identifier": None})
    users.append({"email": "trader@andina.demo.aeo", "role": "trader", "administration": None,
                  "display_name": "María José Fuentes (Exportadora Andina SpA)",
                  "operator_identifier": "CL-RUT:76086428-5", "registered_by": "CL"})
    users.append({"email": "trader@pacificosur.demo.aeo", "role": "trader", "administration": None,
                  "display_name": "Rodrigo Salinas Vera (Grupo Logístico Pacífico Sur)",
                  "operator_identifier": "LEI:" + shared_lei, "registered_by": "PE"})

    # MRAs
    mras = []
    for code in CODES:
        for partner in CODES:
            if partner == code:
                continue
            mras.append({"administration": code, "partner": partner, "title": PA_TITLE,
                         "status": "in_force", "signed_on": "2018-07-21", "in_force_from": "2019-07-01",
                         "categories": ["security", "full"], "roles": []})
    mras.append({"administration": "PE", "partner": "KR",
                 "title": "Mutual Recognition Arrangement on Authorized Economic Operator programmes "
                          "between SUNAT (Peru) and the Korea Customs Service",
                 "status": "negotiating", "signed_on": None, "in_force_from": None,
                 "categories": ["security", "full"], "roles": []})

    data = {"administrations": ADMINISTRATIONS, "users": users, "certificates": certificates, "mras": mras}
    self_check(data, shared_lei)
    return data


def self_check(data, shared_lei):
    certs = data["certificates"]
    assert len(certs) == 120
    first = certs[0]
    assert first == {
        "administration": "CL", "number": "CL-OEA-0001", "category": "security", "roles": ["exporter", "carrier"],
        "valid_from": "2024-01-15", "valid_until": "2027-01-14",
        "operator": {"name": "Exportadora Andina SpA", "identifiers": [{"scheme": "CL-RUT", "value": "76086428-5"}],
                     "address": first["operator"]["address"], "public": False},
        "status": "active", "status_reason": None, "status_changed_on": None}
    seen_numbers = set()
    holders = {}
    for c in certs:
        assert c["number"] not in seen_numbers
        seen_numbers.add(c["number"])
        nat = {"CL": "CL-RUT", "CO": "CO-NIT", "MX": "MX-RFC", "PE": "PE-RUC"}[c["administration"]]
        assert c["operator"]["identifiers"][0]["scheme"] == nat
        for ident in c["operator"]["identifiers"]:
            validate_identifier(ident["scheme"], ident["value"])
            holders.setdefault((ident["scheme"], ident["value"]), []).append(c["administration"])
        pc = c["operator"]["address"]["postal_code"]
        assert re.fullmatch({"CL": r"\d{7}", "CO": r"\d{6}", "MX": r"\d{5}", "PE": r"\d{5}"}[c["administration"]], pc)
    # Every identifier belongs to one operator, except the shared LEI (CL and PE).
    for key, admins in holders.items():
        if key == ("LEI", shared_lei):
            assert sorted(admins) == ["CL", "PE"]
        else:
            assert len(admins) == 1, key
    for code in CODES:
        mine = [c for c in certs if c["administration"] == code]
        st = [c["status"] for c in mine]
        assert st.count("suspended") == 3 and st.count("revoked") == 2
        exp = [c for c in mine if c["status"] == "active" and c["valid_until"] < TODAY.isoformat()]
        assert len(exp) == 3
        assert sum(c["valid_from"] > TODAY.isoformat() for c in mine) <= 1
        assert any(c["category"] == "simplification" and c["status"] == "active"
                   and c["valid_from"] <= TODAY.isoformat() < c["valid_until"] for c in mine)
        assert sum(c["operator"]["public"] for c in mine) in range(9, 13)
    ids = {"%s:%s" % k for k in holders}
    for u in data["users"]:
        if u["role"] == "trader":
            assert u["operator_identifier"] in ids
            # The registering administration certified the operator (the API refuses otherwise).
            assert any(c["administration"] == u["registered_by"] and u["operator_identifier"] in
                       {"%s:%s" % (i["scheme"], i["value"]) for i in c["operator"]["identifiers"]}
                       for c in data["certificates"])


def main():
    data = build()
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)

    certs = data["certificates"]
    print("wrote %s (%d bytes)" % (OUT, len(text.encode("utf-8"))))
    print("administrations: %d, users: %d, certificates: %d, mras: %d"
          % (len(data["administrations"]), len(data["users"]), len(certs), len(data["mras"])))
    header = "%-4s %6s %7s %10s %8s %8s %7s | %9s %5s %15s | %6s" % (
        "adm", "total", "active", "suspended", "revoked", "expired*", "future",
        "security", "full", "simplification", "public")
    print(header)
    for code in CODES:
        mine = [c for c in certs if c["administration"] == code]
        t = TODAY.isoformat()
        expired = sum(c["status"] == "active" and c["valid_until"] < t for c in mine)
        future = sum(c["status"] == "active" and c["valid_from"] > t for c in mine)
        active = sum(c["status"] == "active" for c in mine) - expired - future
        print("%-4s %6d %7d %10d %8d %8d %7d | %9d %5d %15d | %6d" % (
            code, len(mine), active,
            sum(c["status"] == "suspended" for c in mine), sum(c["status"] == "revoked" for c in mine),
            expired, future,
            sum(c["category"] == "security" for c in mine), sum(c["category"] == "full" for c in mine),
            sum(c["category"] == "simplification" for c in mine), sum(c["operator"]["public"] for c in mine)))
    print("* expired: status \"active\" in the file with valid_until before %s" % TODAY.isoformat())
    for u in data["users"]:
        if u["role"] == "trader":
            print("trader %s -> %s" % (u["email"], u["operator_identifier"]))


if __name__ == "__main__":
    main()

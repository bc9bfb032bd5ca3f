//! The pages' two languages, Spanish first. A page's language comes from `?lang=`, else the
//! `lang` cookie, else `Accept-Language`, else Spanish (the contract's order). Every text of the
//! pages is a field of [`Text`], so a text missing in one language does not compile.

use aeo_domain::{Category, MraStatus, Reason, Role, Status};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

/// The cookie that keeps the language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("es") {
            Some(Lang::Es)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of a page: the query's, else the cookie's, else the first of the browser's
    /// that the pages speak (by weight), else Spanish.
    pub fn negotiate(query: Option<&str>, cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::parse).or_else(|| cookie.and_then(Lang::parse)) {
            return lang;
        }
        let mut offered: Vec<(f32, Lang)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let lang = Lang::parse(parts.next()?)?;
                let weight = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (weight > 0.0).then_some((weight, lang))
            })
            .collect();
        // Stable: of equal weights, the first listed wins.
        offered.sort_by(|a, b| b.0.total_cmp(&a.0));
        offered.first().map_or(Lang::Es, |(_, lang)| *lang)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }

    /// A date as its reader writes it, with the month in words so that no reader takes the
    /// day for the month: "5 dic 2026", "5 Dec 2026".
    pub fn date(self, date: NaiveDate) -> LocalDate {
        LocalDate { lang: self, date }
    }

    /// A count (a whole number, not negative) as its reader writes it: "20.000" in Spanish,
    /// "20,000" in English.
    pub fn number(self, n: impl std::fmt::Display) -> String {
        let separator = match self {
            Lang::Es => '.',
            Lang::En => ',',
        };
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                out.push(separator);
            }
            out.push(digit);
        }
        out
    }

    /// An instant, to the second, in UTC (the time every border reads alike).
    pub fn instant(self, at: DateTime<Utc>) -> LocalInstant {
        LocalInstant { lang: self, at }
    }

    /// How long ago, in words: "3 s", "2 min", "1 h".
    pub fn ago(self, seconds: i64) -> Ago {
        Ago { lang: self, seconds: seconds.max(0) }
    }

    pub fn reason(self, reason: Reason) -> &'static str {
        let es = self == Lang::Es;
        match reason {
            Reason::CertificateNotFound => {
                if es {
                    "No existe un certificado con ese número o identificador en la administración emisora."
                } else {
                    "The issuing administration has no certificate with that number or identifier."
                }
            }
            Reason::CertificateSuspended => {
                if es {
                    "El certificado está suspendido por su emisor."
                } else {
                    "The certificate is suspended by its issuer."
                }
            }
            Reason::CertificateRevoked => {
                if es {
                    "El certificado fue revocado por su emisor."
                } else {
                    "The certificate was revoked by its issuer."
                }
            }
            Reason::CertificateExpired => {
                if es {
                    "El certificado está vencido."
                } else {
                    "The certificate has expired."
                }
            }
            Reason::CertificateNotYetValid => {
                if es {
                    "El certificado aún no entra en vigencia."
                } else {
                    "The certificate is not valid yet."
                }
            }
            Reason::NoMra => {
                if es {
                    "No hay un acuerdo de reconocimiento mutuo con la administración emisora."
                } else {
                    "There is no mutual recognition arrangement with the issuing administration."
                }
            }
            Reason::MraNotInForce => {
                if es {
                    "El acuerdo de reconocimiento mutuo con la administración emisora no está vigente."
                } else {
                    "The mutual recognition arrangement with the issuing administration is not in force."
                }
            }
            Reason::CategoryNotCovered => {
                if es {
                    "El acuerdo no cubre la categoría de este certificado."
                } else {
                    "The arrangement does not cover this certificate's category."
                }
            }
            Reason::RoleNotCovered => {
                if es {
                    "El acuerdo no cubre ninguna de las funciones del operador."
                } else {
                    "The arrangement covers none of the operator's roles."
                }
            }
            Reason::IssuerUnreachable => {
                if es {
                    "No se pudo consultar a la administración emisora y la copia disponible aquí no está al día."
                } else {
                    "The issuing administration could not be asked, and the copy held here is not current."
                }
            }
        }
    }

    pub fn status(self, status: Status) -> &'static str {
        let es = self == Lang::Es;
        match status {
            Status::Active => {
                if es {
                    "vigente"
                } else {
                    "active"
                }
            }
            Status::Suspended => {
                if es {
                    "suspendido"
                } else {
                    "suspended"
                }
            }
            Status::Revoked => {
                if es {
                    "revocado"
                } else {
                    "revoked"
                }
            }
            Status::Expired => {
                if es {
                    "vencido"
                } else {
                    "expired"
                }
            }
        }
    }

    pub fn category(self, category: Category) -> &'static str {
        let es = self == Lang::Es;
        match category {
            Category::Security => {
                if es {
                    "seguridad"
                } else {
                    "security"
                }
            }
            Category::Simplification => {
                if es {
                    "simplificación"
                } else {
                    "simplification"
                }
            }
            Category::Full => {
                if es {
                    "completa"
                } else {
                    "full"
                }
            }
        }
    }

    pub fn role(self, role: Role) -> &'static str {
        let es = self == Lang::Es;
        match role {
            Role::Manufacturer => {
                if es {
                    "fabricante"
                } else {
                    "manufacturer"
                }
            }
            Role::Importer => {
                if es {
                    "importador"
                } else {
                    "importer"
                }
            }
            Role::Exporter => {
                if es {
                    "exportador"
                } else {
                    "exporter"
                }
            }
            Role::CustomsBroker => {
                if es {
                    "agente de aduanas"
                } else {
                    "customs broker"
                }
            }
            Role::Carrier => {
                if es {
                    "transportista"
                } else {
                    "carrier"
                }
            }
            Role::FreightForwarder => {
                if es {
                    "transitario"
                } else {
                    "freight forwarder"
                }
            }
            Role::WarehouseOperator => {
                if es {
                    "operador de almacén"
                } else {
                    "warehouse operator"
                }
            }
            Role::PortOperator => {
                if es {
                    "operador portuario"
                } else {
                    "port operator"
                }
            }
            Role::TerminalOperator => {
                if es {
                    "operador de terminal"
                } else {
                    "terminal operator"
                }
            }
            Role::LogisticsOperator => {
                if es {
                    "operador logístico"
                } else {
                    "logistics operator"
                }
            }
        }
    }

    pub fn user_role(self, role: crate::auth::UserRole) -> &'static str {
        use crate::auth::UserRole::*;
        let es = self == Lang::Es;
        match role {
            PlatformAdmin => {
                if es {
                    "administración de la plataforma"
                } else {
                    "platform administrator"
                }
            }
            CustomsAdmin => {
                if es {
                    "administrador de aduana"
                } else {
                    "customs administrator"
                }
            }
            CustomsOfficer => {
                if es {
                    "funcionario de aduana"
                } else {
                    "customs officer"
                }
            }
            BorderOfficer => {
                if es {
                    "funcionario de frontera"
                } else {
                    "border officer"
                }
            }
            Auditor => "auditor", // The same word in both.
            Trader => {
                if es {
                    "operador"
                } else {
                    "trader"
                }
            }
        }
    }

    /// A kind of audited action (the prefix of its name), in words.
    pub fn audit_kind(self, prefix: &str) -> &'static str {
        let es = self == Lang::Es;
        match prefix {
            "certificate." => {
                if es {
                    "certificados"
                } else {
                    "certificates"
                }
            }
            "mra." => {
                if es {
                    "acuerdos"
                } else {
                    "arrangements"
                }
            }
            "user." => {
                if es {
                    "usuarios"
                } else {
                    "users"
                }
            }
            "session." => {
                if es {
                    "sesiones"
                } else {
                    "sessions"
                }
            }
            "peer." => {
                if es {
                    "registros asociados"
                } else {
                    "peer registries"
                }
            }
            _ => {
                if es {
                    "llamadas de federación"
                } else {
                    "federation calls"
                }
            }
        }
    }

    /// A status as stored in a history ("suspended"), in words; an unknown word as it is.
    pub fn status_named(self, status: &str) -> String {
        status.parse::<Status>().map_or_else(|_| status.to_owned(), |status| self.status(status).to_owned())
    }

    /// What a change of a certificate's history did, in words.
    pub fn action(self, action: &str) -> String {
        let es = self == Lang::Es;
        let words = match action {
            "created" => {
                if es {
                    "publicado"
                } else {
                    "published"
                }
            }
            "updated" => {
                if es {
                    "datos cambiados"
                } else {
                    "details changed"
                }
            }
            "imported" => {
                if es {
                    "importado"
                } else {
                    "imported"
                }
            }
            "status_changed" => {
                if es {
                    "cambio de estado"
                } else {
                    "status changed"
                }
            }
            other => return other.to_owned(),
        };
        words.to_owned()
    }

    pub fn mra_status(self, status: MraStatus) -> &'static str {
        let es = self == Lang::Es;
        match status {
            MraStatus::Negotiating => {
                if es {
                    "en negociación"
                } else {
                    "negotiating"
                }
            }
            MraStatus::Signed => {
                if es {
                    "firmado"
                } else {
                    "signed"
                }
            }
            MraStatus::InForce => {
                if es {
                    "vigente"
                } else {
                    "in force"
                }
            }
            MraStatus::Suspended => {
                if es {
                    "suspendido"
                } else {
                    "suspended"
                }
            }
            MraStatus::Terminated => {
                if es {
                    "terminado"
                } else {
                    "terminated"
                }
            }
        }
    }
}

/// Every text of the pages, in one language.
pub struct Text {
    pub skip_to_content: &'static str,
    pub registry_name: &'static str,
    pub switch_language: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub wrong_credentials: &'static str,
    pub too_many_attempts: &'static str,
    pub not_allowed: &'static str,
    pub not_found: &'static str,
    pub try_again: &'static str,
    pub public_check: &'static str,
    pub public_check_intro: &'static str,
    pub administration: &'static str,
    pub certificate_number: &'static str,
    pub check: &'static str,
    pub no_such_certificate: &'static str,
    pub status: &'static str,
    pub category: &'static str,
    pub valid_until: &'static str,
    pub valid_from: &'static str,
    pub operator: &'static str,
    pub operator_not_public: &'static str,
    pub border: &'static str,
    pub border_intro: &'static str,
    pub issuer: &'static str,
    pub number_or_identifier: &'static str,
    pub number_or_identifier_hint: &'static str,
    pub ask: &'static str,
    pub recognized: &'static str,
    pub not_recognized: &'static str,
    pub unknown: &'static str,
    pub reasons: &'static str,
    pub roles: &'static str,
    pub arrangement: &'static str,
    pub in_force_since: &'static str,
    /// Before the date an arrangement took effect, after its status: no "in force, in force since".
    pub entered_into_force: &'static str,
    pub covers: &'static str,
    pub answered_at: &'static str,
    pub source: &'static str,
    pub source_local: &'static str,
    pub source_peer: &'static str,
    pub source_cache: &'static str,
    pub source_mirror: &'static str,
    pub stale_note: &'static str,
    pub invalid_question: &'static str,
    pub form_refused: &'static str,
    pub form_unreadable: &'static str,
    pub address: &'static str,
    pub answer_unverified: &'static str,
    pub any: &'static str,
    pub apply_import: &'static str,
    pub asked_of_partner: &'static str,
    pub by: &'static str,
    pub cancel: &'static str,
    pub certificates: &'static str,
    pub changed_meanwhile: &'static str,
    pub check_file: &'static str,
    pub choose_a_file: &'static str,
    pub choose_another_file: &'static str,
    pub city: &'static str,
    pub clear: &'static str,
    pub confirm_reinstate: &'static str,
    pub confirm_revoke: &'static str,
    pub confirm_suspend: &'static str,
    pub country: &'static str,
    pub country_hint: &'static str,
    pub created: &'static str,
    pub csv_file: &'static str,
    pub done_created: &'static str,
    pub done_saved: &'static str,
    pub done_status_changed: &'static str,
    pub edit: &'static str,
    pub export_csv: &'static str,
    pub field: &'static str,
    pub file_too_large: &'static str,
    pub fix_the_fields: &'static str,
    pub history: &'static str,
    pub identifiers: &'static str,
    pub identifiers_hint: &'static str,
    pub import_applied: &'static str,
    pub import_columns: &'static str,
    pub import_csv: &'static str,
    pub import_intro: &'static str,
    pub import_ready: &'static str,
    pub import_refused: &'static str,
    pub my_certificates: &'static str,
    pub new_certificate: &'static str,
    pub next_page: &'static str,
    pub no: &'static str,
    pub no_certificates_found: &'static str,
    pub no_certificates_held: &'static str,
    pub no_partners: &'static str,
    pub number: &'static str,
    pub number_hint: &'static str,
    pub partner_refused: &'static str,
    pub partner_unreachable: &'static str,
    pub postal_code: &'static str,
    pub problem: &'static str,
    pub public_name: &'static str,
    pub public_name_consent: &'static str,
    pub publish: &'static str,
    pub reason: &'static str,
    pub reason_hint: &'static str,
    pub recognised_there: &'static str,
    pub recognition_abroad: &'static str,
    pub reinstate: &'static str,
    pub revoke: &'static str,
    pub role: &'static str,
    pub row: &'static str,
    pub save: &'static str,
    pub search: &'static str,
    pub search_hint: &'static str,
    pub street: &'static str,
    pub suspend: &'static str,
    pub to_create: &'static str,
    pub to_update: &'static str,
    pub unchanged: &'static str,
    pub updated: &'static str,
    pub version: &'static str,
    pub what: &'static str,
    pub when: &'static str,
    pub yes: &'static str,
    pub not_utf8: &'static str,
    pub next_question: &'static str,
    pub signed_record: &'static str,
    pub signed_record_intro: &'static str,
    pub signed_by: &'static str,
    pub reference: &'static str,
    pub printable_view: &'static str,
    pub several_certificates: &'static str,
    pub accept_keys: &'static str,
    pub actions: &'static str,
    pub actor_hint: &'static str,
    pub announced_keys: &'static str,
    pub arrangements: &'static str,
    pub audit_log: &'static str,
    pub backlog: &'static str,
    pub categories_covered: &'static str,
    pub create_user: &'static str,
    pub details: &'static str,
    pub disable: &'static str,
    pub disabled: &'static str,
    pub display_name: &'static str,
    pub enable: &'static str,
    pub enabled: &'static str,
    pub in_force_from: &'static str,
    pub key_change_compare: &'static str,
    pub key_change_pending: &'static str,
    pub last_error: &'static str,
    pub last_exchange: &'static str,
    pub new_arrangement: &'static str,
    pub new_password: &'static str,
    pub new_user: &'static str,
    pub no_arrangements: &'static str,
    pub no_peers: &'static str,
    pub no_records: &'static str,
    pub operator_identifier: &'static str,
    pub operator_identifier_hint: &'static str,
    pub own_keys: &'static str,
    pub partner: &'static str,
    pub partner_hint: &'static str,
    pub password_hint: &'static str,
    pub peers: &'static str,
    pub peers_intro: &'static str,
    pub pinned_keys: &'static str,
    pub retired: &'static str,
    pub roles_covered: &'static str,
    pub roles_covered_hint: &'static str,
    pub set_password: &'static str,
    pub signed_on: &'static str,
    pub signs_from: &'static str,
    pub since: &'static str,
    pub target: &'static str,
    pub thumbprint: &'static str,
    pub title: &'static str,
    pub users: &'static str,
}

pub static ES: Text = Text {
    skip_to_content: "Ir al contenido",
    registry_name: "Registro OEA",
    switch_language: "English",
    sign_in: "Iniciar sesión",
    sign_out: "Cerrar sesión",
    signed_in_as: "Sesión de",
    email: "Correo electrónico",
    password: "Contraseña",
    wrong_credentials: "El correo o la contraseña no son correctos.",
    too_many_attempts: "Demasiados intentos. Espere un momento y vuelva a intentarlo.",
    not_allowed: "Su cuenta no tiene acceso a esta página.",
    not_found: "Esta página no existe.",
    try_again: "Vuelva a intentarlo en un momento.",
    public_check: "Consulta pública",
    public_check_intro: "Confirme el estado de un certificado OEA, sin iniciar sesión.",
    administration: "Administración",
    certificate_number: "Número de certificado",
    check: "Consultar",
    no_such_certificate: "Esa administración no tiene un certificado con ese número.",
    status: "Estado",
    category: "Categoría",
    valid_until: "Vigente hasta",
    valid_from: "Vigente desde",
    operator: "Operador",
    operator_not_public: "El operador no autorizó publicar su nombre.",
    border: "Frontera",
    border_intro: "¿Está este operador reconocido aquí, ahora?",
    issuer: "Administración emisora",
    number_or_identifier: "Número de certificado o identificador del operador",
    number_or_identifier_hint: "Por ejemplo CL-OEA-0001, o CL-RUT:76.086.428-5",
    ask: "Consultar",
    recognized: "RECONOCIDO",
    not_recognized: "NO RECONOCIDO",
    unknown: "DESCONOCIDO",
    reasons: "Motivos",
    roles: "Funciones",
    arrangement: "Acuerdo de reconocimiento mutuo",
    in_force_since: "vigente desde",
    entered_into_force: "entró en vigor el",
    covers: "cubre",
    answered_at: "Respuesta del",
    source: "Origen",
    source_local: "registro de la administración emisora, en este nodo",
    source_peer: "consultado ahora al registro de",
    source_cache: "respuesta firmada por el registro de",
    source_mirror: "copia firmada mantenida aquí del registro de",
    stale_note: "La copia disponible está desactualizada.",
    invalid_question: "Revise la consulta",
    form_refused: "Este formulario debe enviarse desde las páginas de este registro. Vuelva a cargar la página.",
    form_unreadable: "No se pudo leer el formulario.",
    address: "Dirección",
    answer_unverified: "La respuesta de esa administración no pudo verificarse.",
    any: "Cualquiera",
    apply_import: "Aplicar la importación",
    asked_of_partner: "Respondido por el registro de esa administración.",
    by: "Por",
    cancel: "Cancelar",
    certificates: "Certificados",
    changed_meanwhile: "Otra persona cambió este certificado mientras usted lo editaba. Vuelva a abrirlo para ver sus cambios.",
    check_file: "Revisar el archivo",
    choose_a_file: "Elija un archivo CSV.",
    choose_another_file: "Elegir otro archivo",
    city: "Ciudad",
    clear: "Limpiar",
    confirm_reinstate: "¿Rehabilitar este certificado?",
    confirm_revoke: "¿Revocar este certificado? La revocación es definitiva.",
    confirm_suspend: "¿Suspender este certificado?",
    country: "País",
    country_hint: "Código de dos letras, por ejemplo CL",
    created: "Creados",
    csv_file: "Archivo CSV",
    done_created: "Certificado publicado.",
    done_saved: "Cambios guardados.",
    done_status_changed: "Estado cambiado. Las administraciones asociadas lo reciben ahora.",
    edit: "Editar",
    export_csv: "Exportar la lista (CSV)",
    field: "Campo",
    file_too_large: "El archivo es demasiado grande para importarlo desde esta página (máximo 4 MiB); use la importación de la API.",
    fix_the_fields: "Revise los campos marcados.",
    history: "Historial",
    identifiers: "Identificadores",
    identifiers_hint: "Uno por línea, como ESQUEMA:VALOR, por ejemplo CL-RUT:76.086.428-5",
    import_applied: "Importación aplicada.",
    import_columns: "Columnas (en cualquier orden):",
    import_csv: "Importar CSV",
    import_intro: "Primero se revisa todo el archivo y se muestra cada error, sin aplicar nada. Si no hay errores, usted decide aplicarlo. La lista exportada sirve de modelo.",
    import_ready: "El archivo no tiene errores. Nada se ha aplicado todavía.",
    import_refused: "El archivo tiene errores; no se aplicó nada. Corríjalos y vuelva a intentarlo.",
    my_certificates: "Mis certificados",
    new_certificate: "Nuevo certificado",
    next_page: "Página siguiente",
    no: "No",
    no_certificates_found: "Ningún certificado coincide con la búsqueda.",
    no_certificates_held: "La administración que registró su cuenta no tiene certificados a nombre de su empresa.",
    no_partners: "La administración emisora no tiene acuerdos registrados.",
    number: "Número",
    number_hint: "Déjelo vacío para que el registro asigne el siguiente",
    partner_refused: "Esa administración rechazó la consulta.",
    partner_unreachable: "No se pudo contactar a esa administración.",
    postal_code: "Código postal",
    problem: "Problema",
    public_name: "Nombre publicado",
    public_name_consent: "El operador autoriza publicar su nombre en la consulta pública",
    publish: "Publicar",
    reason: "Motivo",
    reason_hint: "Obligatorio al suspender o revocar; lo ven las administraciones asociadas",
    recognised_there: "Reconocido",
    recognition_abroad: "Reconocimiento en las administraciones asociadas",
    reinstate: "Rehabilitar",
    revoke: "Revocar",
    role: "Función",
    row: "Fila",
    save: "Guardar",
    search: "Buscar",
    search_hint: "Parte del nombre del operador (3 letras o más) o un identificador",
    street: "Calle",
    suspend: "Suspender",
    to_create: "Se crearán",
    to_update: "Se actualizarán",
    unchanged: "Sin cambios",
    updated: "Actualizados",
    version: "Versión",
    what: "Qué",
    when: "Cuándo",
    yes: "Sí",
    several_certificates: "Este identificador corresponde a varios certificados, cada uno con su veredicto:",
    signed_record: "Constancia firmada",
    signed_record_intro: "Esta respuesta, firmada por la administración que consultó, puede archivarse con la declaración: cualquiera puede verificarla con las claves publicadas de esa administración.",
    signed_by: "Firmada por",
    reference: "Referencia",
    printable_view: "Vista para imprimir, con la constancia firmada",
    next_question: "Otra consulta",
    not_utf8: "El archivo no está en UTF-8. Guárdelo como «CSV UTF-8» y vuelva a intentarlo.",
    accept_keys: "Aceptar las nuevas claves de",
    actions: "Acciones",
    actor_hint: "Un correo, o peer:PE para una administración asociada",
    announced_keys: "Claves anunciadas",
    arrangements: "Acuerdos",
    audit_log: "Auditoría",
    backlog: "Cambios por entregar",
    categories_covered: "Categorías cubiertas",
    create_user: "Crear el usuario",
    details: "Detalles",
    disable: "Deshabilitar",
    disabled: "deshabilitado",
    display_name: "Nombre",
    enable: "Habilitar",
    enabled: "habilitado",
    in_force_from: "Vigente desde",
    key_change_compare: "Compare estas huellas con las que esa administración le comunique por otro medio antes de aceptarlas. Hasta entonces, lo que firme con ellas se rechaza.",
    key_change_pending: "Cambio de claves pendiente.",
    last_error: "Último error",
    last_exchange: "Último intercambio correcto",
    new_arrangement: "Nuevo acuerdo",
    new_password: "Nueva contraseña",
    new_user: "Nuevo usuario",
    no_arrangements: "No hay acuerdos registrados.",
    no_peers: "No hay registros asociados inscritos.",
    no_records: "Ningún registro coincide.",
    operator_identifier: "Identificador del operador (solo operadores)",
    operator_identifier_hint: "ESQUEMA:VALOR de un operador que esta administración certifica",
    own_keys: "Claves de firma de esta administración",
    partner: "Administración asociada",
    partner_hint: "Código de la administración, por ejemplo PE",
    password_hint: "Al menos 12 caracteres",
    peers: "Registros asociados",
    peers_intro: "Cada registro asociado con las claves fijadas para verificar lo que firma. Compare las huellas con las que la otra administración le comunique por otro medio.",
    pinned_keys: "Claves fijadas (huellas)",
    retired: "Retirada",
    roles_covered: "Funciones cubiertas",
    roles_covered_hint: "Ninguna marcada: todas las funciones",
    set_password: "Cambiar la contraseña",
    signed_on: "Firmado el",
    signs_from: "firma desde",
    since: "Desde",
    target: "Sobre",
    thumbprint: "Huella",
    title: "Título",
    users: "Usuarios",
};

pub static EN: Text = Text {
    skip_to_content: "Skip to content",
    registry_name: "AEO Registry",
    switch_language: "Español",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    email: "E-mail",
    password: "Password",
    wrong_credentials: "The e-mail or password is not right.",
    too_many_attempts: "Too many attempts. Wait a moment and try again.",
    not_allowed: "Your account has no access to this page.",
    not_found: "There is no such page.",
    try_again: "Try again in a moment.",
    public_check: "Public check",
    public_check_intro: "Confirm an AEO certificate's status, without signing in.",
    administration: "Administration",
    certificate_number: "Certificate number",
    check: "Check",
    no_such_certificate: "That administration has no certificate with that number.",
    status: "Status",
    category: "Category",
    valid_until: "Valid until",
    valid_from: "Valid from",
    operator: "Operator",
    operator_not_public: "The operator did not consent to its name being published.",
    border: "Border",
    border_intro: "Is this operator recognised here, now?",
    issuer: "Issuing administration",
    number_or_identifier: "Certificate number or operator identifier",
    number_or_identifier_hint: "For example CL-OEA-0001, or CL-RUT:76.086.428-5",
    ask: "Ask",
    recognized: "RECOGNISED",
    not_recognized: "NOT RECOGNISED",
    unknown: "UNKNOWN",
    reasons: "Reasons",
    roles: "Roles",
    arrangement: "Mutual recognition arrangement",
    in_force_since: "in force since",
    entered_into_force: "took effect on",
    covers: "covers",
    answered_at: "Answered",
    source: "Source",
    source_local: "the issuing administration's registry, on this node",
    source_peer: "asked just now of the registry of",
    source_cache: "answer signed by the registry of",
    source_mirror: "signed copy held here of the registry of",
    stale_note: "The copy held here is out of date.",
    invalid_question: "Check the question",
    form_refused: "This form must be sent from this registry's own pages. Reload the page.",
    form_unreadable: "The form could not be read.",
    address: "Address",
    answer_unverified: "That administration's answer could not be verified.",
    any: "Any",
    apply_import: "Apply the import",
    asked_of_partner: "Answered by that administration's registry.",
    by: "By",
    cancel: "Cancel",
    certificates: "Certificates",
    changed_meanwhile: "Someone else changed this certificate while you were editing it. Open it again to see their changes.",
    check_file: "Check the file",
    choose_a_file: "Choose a CSV file.",
    choose_another_file: "Choose another file",
    city: "City",
    clear: "Clear",
    confirm_reinstate: "Reinstate this certificate?",
    confirm_revoke: "Revoke this certificate? A revocation is final.",
    confirm_suspend: "Suspend this certificate?",
    country: "Country",
    country_hint: "Two-letter code, for example CL",
    created: "Created",
    csv_file: "CSV file",
    done_created: "Certificate published.",
    done_saved: "Changes saved.",
    done_status_changed: "Status changed. Partner administrations receive it now.",
    edit: "Edit",
    export_csv: "Export the list (CSV)",
    field: "Field",
    file_too_large: "The file is too large to import from this page (at most 4 MiB); use the API's import.",
    fix_the_fields: "Check the fields marked.",
    history: "History",
    identifiers: "Identifiers",
    identifiers_hint: "One per line, as SCHEME:VALUE, for example CL-RUT:76.086.428-5",
    import_applied: "Import applied.",
    import_columns: "Columns (in any order):",
    import_csv: "Import CSV",
    import_intro: "The whole file is checked first and every error shown, with nothing applied. If there is none, you decide to apply it. The exported list serves as a template.",
    import_ready: "The file has no errors. Nothing has been applied yet.",
    import_refused: "The file has errors; nothing was applied. Correct them and try again.",
    my_certificates: "My certificates",
    new_certificate: "New certificate",
    next_page: "Next page",
    no: "No",
    no_certificates_found: "No certificate matches the search.",
    no_certificates_held: "The administration that registered your account holds no certificate under your company.",
    no_partners: "The issuing administration has no arrangement on record.",
    number: "Number",
    number_hint: "Leave it empty for the registry to assign the next one",
    partner_refused: "That administration refused the question.",
    partner_unreachable: "That administration could not be reached.",
    postal_code: "Postal code",
    problem: "Problem",
    public_name: "Name published",
    public_name_consent: "The operator consents to its name in the public check",
    publish: "Publish",
    reason: "Reason",
    reason_hint: "Required to suspend or revoke; partner administrations see it",
    recognised_there: "Recognised",
    recognition_abroad: "Recognition at partner administrations",
    reinstate: "Reinstate",
    revoke: "Revoke",
    role: "Role",
    row: "Row",
    save: "Save",
    search: "Search",
    search_hint: "Part of the operator's name (3 letters or more) or an identifier",
    street: "Street",
    suspend: "Suspend",
    to_create: "To create",
    to_update: "To update",
    unchanged: "Unchanged",
    updated: "Updated",
    version: "Version",
    what: "What",
    when: "When",
    yes: "Yes",
    several_certificates: "This identifier matches several certificates, each with its own verdict:",
    signed_record: "Signed record",
    signed_record_intro: "This answer, signed by the administration that asked, can be filed with the declaration: anyone can verify it with that administration's published keys.",
    signed_by: "Signed by",
    reference: "Reference",
    printable_view: "Printable view, with the signed record",
    next_question: "Another question",
    not_utf8: "The file is not UTF-8. Save it as \"CSV UTF-8\" and try again.",
    accept_keys: "Accept the new keys of",
    actions: "Actions",
    actor_hint: "An e-mail, or peer:PE for a partner administration",
    announced_keys: "Announced keys",
    arrangements: "Arrangements",
    audit_log: "Audit log",
    backlog: "Changes not yet delivered",
    categories_covered: "Categories covered",
    create_user: "Create the user",
    details: "Details",
    disable: "Disable",
    disabled: "disabled",
    display_name: "Name",
    enable: "Enable",
    enabled: "enabled",
    in_force_from: "In force from",
    key_change_compare: "Compare these thumbprints with those the administration gives you by other means before accepting them. Until then, what it signs with them is refused.",
    key_change_pending: "Key change pending.",
    last_error: "Last error",
    last_exchange: "Last successful exchange",
    new_arrangement: "New arrangement",
    new_password: "New password",
    new_user: "New user",
    no_arrangements: "No arrangement is on record.",
    no_peers: "No peer registry is registered.",
    no_records: "No record matches.",
    operator_identifier: "Operator identifier (traders only)",
    operator_identifier_hint: "SCHEME:VALUE of an operator this administration certifies",
    own_keys: "This administration's signing keys",
    partner: "Partner administration",
    partner_hint: "The administration's code, for example PE",
    password_hint: "At least 12 characters",
    peers: "Peer registries",
    peers_intro: "Each peer registry with the keys pinned to verify what it signs. Compare the thumbprints with those the other administration gives you by other means.",
    pinned_keys: "Pinned keys (thumbprints)",
    retired: "Retired",
    roles_covered: "Roles covered",
    roles_covered_hint: "None ticked: every role",
    set_password: "Set a new password",
    signed_on: "Signed on",
    signs_from: "signs from",
    since: "Since",
    target: "Target",
    thumbprint: "Thumbprint",
    title: "Title",
    users: "Users",
};

/// A date in a reader's words ([`Lang::date`]); written straight into the page, as every
/// value below is, so that a page costs no string per date.
pub struct LocalDate {
    lang: Lang,
    date: NaiveDate,
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let months = match self.lang {
            Lang::Es => ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"],
            Lang::En => ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec"],
        };
        let date = self.date;
        write!(f, "{} {} {}", date.day(), months[date.month0() as usize], date.year())
    }
}

/// An instant in a reader's words ([`Lang::instant`]).
pub struct LocalInstant {
    lang: Lang,
    at: DateTime<Utc>,
}

impl fmt::Display for LocalInstant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at;
        let date = self.lang.date(at.date_naive());
        write!(f, "{date} {:02}:{:02}:{:02} UTC", at.hour(), at.minute(), at.second())
    }
}

/// How long ago, in a reader's words ([`Lang::ago`]).
pub struct Ago {
    lang: Lang,
    seconds: i64,
}

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.seconds;
        let (amount, unit) = match seconds {
            0..60 => (seconds, "s"),
            60..3600 => (seconds / 60, "min"),
            3600..86_400 => (seconds / 3600, "h"),
            _ => (seconds / 86_400, "d"),
        };
        match self.lang {
            Lang::Es => write!(f, "hace {amount} {unit}"),
            Lang::En => write!(f, "{amount} {unit} ago"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_cookie_then_the_browser_then_spanish() {
        assert_eq!(Lang::negotiate(Some("en"), Some("es"), Some("es")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr"), Some("en"), None), Lang::En);
        assert_eq!(Lang::negotiate(None, None, Some("en-GB,en;q=0.9,es;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(None, None, Some("fr-FR, en;q=0.5, es;q=0.7")), Lang::Es);
        assert_eq!(Lang::negotiate(None, None, Some("en;q=0, de")), Lang::Es);
        assert_eq!(Lang::negotiate(None, None, Some("pt-BR")), Lang::Es);
        assert_eq!(Lang::negotiate(None, None, None), Lang::Es);
    }

    #[test]
    fn dates_and_ages_read_as_each_language_writes_them() {
        let date: NaiveDate = "2026-12-05".parse().expect("date");
        assert_eq!(Lang::Es.date(date).to_string(), "5 dic 2026");
        assert_eq!(Lang::En.date(date).to_string(), "5 Dec 2026");
        let at: DateTime<Utc> = "2026-12-05T08:04:09Z".parse().expect("instant");
        assert_eq!(Lang::Es.instant(at).to_string(), "5 dic 2026 08:04:09 UTC");
        assert_eq!(Lang::En.instant(at).to_string(), "5 Dec 2026 08:04:09 UTC");
        assert_eq!(Lang::Es.ago(125).to_string(), "hace 2 min");
        assert_eq!(Lang::En.ago(3).to_string(), "3 s ago");
        assert_eq!(Lang::En.ago(-4).to_string(), "0 s ago");
        assert_eq!(Lang::Es.number(20_000), "20.000");
        assert_eq!(Lang::En.number(1_234_567), "1,234,567");
        assert_eq!(Lang::En.number(999), "999");
    }
}

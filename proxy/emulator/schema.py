"""The emulator's SQLite schema.

Links that point at one table are foreign keys, so deleting a party removes its contacts,
tasks and entries with it. Tags, custom-field values, additional parties and tracks can
belong to a party, an opportunity or a kase (`entity`, `record_id`); the store removes those
itself when it deletes a record (cascade.py).
"""

# Bumped whenever a table changes; a database written under another version is refused.
SCHEMA_VERSION = "2"

ENTITIES = ("parties", "opportunities", "kases")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    timezone TEXT NOT NULL, token TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, colour TEXT NOT NULL);

-- AUTOINCREMENT everywhere: like Capsule, a deleted record's id is never handed out again.
CREATE TABLE IF NOT EXISTS parties (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type IN ('person', 'organisation')),
    title TEXT, first_name TEXT, last_name TEXT, job_title TEXT, name TEXT, about TEXT,
    organisation_id INTEGER REFERENCES parties(id) ON DELETE SET NULL,
    owner_id INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS parties_by_organisation ON parties (organisation_id);
CREATE INDEX IF NOT EXISTS parties_by_update ON parties (updated_at);
-- One table, so email addresses, phone numbers, addresses and websites share one id sequence.
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    party_id INTEGER NOT NULL REFERENCES parties(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('emailAddresses', 'phoneNumbers', 'addresses', 'websites')),
    type TEXT, address TEXT, number TEXT, street TEXT, city TEXT, state TEXT, country TEXT,
    zip TEXT, service TEXT, url TEXT);
CREATE INDEX IF NOT EXISTS contacts_by_party ON contacts (party_id, id);

CREATE TABLE IF NOT EXISTS pipelines (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, description TEXT,
    archived INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS milestones (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    name TEXT NOT NULL, description TEXT, probability INTEGER NOT NULL,
    complete INTEGER NOT NULL, display_order INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS opportunities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, description TEXT,
    party_id INTEGER NOT NULL REFERENCES parties(id),
    owner_id INTEGER REFERENCES users(id),
    milestone_id INTEGER NOT NULL REFERENCES milestones(id),
    value_amount TEXT, value_currency TEXT,  -- the amount as the decimal text it was given
    expected_close_on TEXT, probability INTEGER,
    duration_basis TEXT NOT NULL DEFAULT 'FIXED', duration INTEGER, closed_on TEXT,
    last_open_milestone_id INTEGER REFERENCES milestones(id), last_stage_changed_at TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS opportunities_by_party ON opportunities (party_id);
CREATE TABLE IF NOT EXISTS kases (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, description TEXT,
    status TEXT NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    party_id INTEGER NOT NULL REFERENCES parties(id),
    owner_id INTEGER REFERENCES users(id),
    opportunity_id INTEGER REFERENCES opportunities(id) ON DELETE SET NULL,
    expected_close_on TEXT, closed_on TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kases_by_party ON kases (party_id);
CREATE TABLE IF NOT EXISTS related_parties (
    entity TEXT NOT NULL CHECK (entity IN ('opportunities', 'kases')),
    record_id INTEGER NOT NULL,
    party_id INTEGER NOT NULL REFERENCES parties(id) ON DELETE CASCADE,
    PRIMARY KEY (entity, record_id, party_id));

CREATE TABLE IF NOT EXISTS tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL CHECK (entity IN ('parties', 'opportunities', 'kases')),
    name TEXT NOT NULL, name_key TEXT NOT NULL,  -- name_key: the case-folded name
    description TEXT, data_tag INTEGER NOT NULL DEFAULT 0,
    UNIQUE (entity, name_key));
CREATE TABLE IF NOT EXISTS tag_links (
    tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    entity TEXT NOT NULL, record_id INTEGER NOT NULL,
    PRIMARY KEY (entity, record_id, tag_id));
CREATE TABLE IF NOT EXISTS field_definitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL CHECK (entity IN ('parties', 'opportunities', 'kases')),
    name TEXT NOT NULL, description TEXT,
    type TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'boolean', 'list')),
    options TEXT,  -- JSON array, list fields only
    tag_id INTEGER REFERENCES tags(id) ON DELETE CASCADE,
    important INTEGER NOT NULL DEFAULT 0, display_order INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS field_values (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    definition_id INTEGER NOT NULL REFERENCES field_definitions(id) ON DELETE CASCADE,
    entity TEXT NOT NULL, record_id INTEGER NOT NULL,
    value TEXT NOT NULL,  -- text, decimal text, YYYY-MM-DD, 'true'/'false' or a list option
    UNIQUE (entity, record_id, definition_id));

CREATE TABLE IF NOT EXISTS track_definitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, description TEXT NOT NULL,
    capture_rule TEXT NOT NULL CHECK (capture_rule IN ('opportunity', 'kase')),
    direction TEXT NOT NULL CHECK (direction IN ('start', 'end')));
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    definition_id INTEGER NOT NULL REFERENCES track_definitions(id),
    entity TEXT NOT NULL, record_id INTEGER NOT NULL, created_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    description TEXT NOT NULL, detail TEXT,
    due_on TEXT NOT NULL, due_time TEXT,
    category_id INTEGER REFERENCES categories(id),
    owner_id INTEGER REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('OPEN', 'COMPLETED', 'PENDING')),
    completed_at TEXT, completed_by INTEGER REFERENCES users(id),
    party_id INTEGER REFERENCES parties(id) ON DELETE CASCADE,
    opportunity_id INTEGER REFERENCES opportunities(id) ON DELETE CASCADE,
    kase_id INTEGER REFERENCES kases(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    CHECK ((party_id IS NOT NULL) + (opportunity_id IS NOT NULL) + (kase_id IS NOT NULL) <= 1));
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, id);

CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type IN ('note', 'email', 'task')),
    content TEXT NOT NULL, subject TEXT,
    activity_type_id INTEGER NOT NULL, activity_type_name TEXT NOT NULL,
    entry_at TEXT NOT NULL, creator_id INTEGER REFERENCES users(id),
    party_id INTEGER REFERENCES parties(id) ON DELETE CASCADE,
    opportunity_id INTEGER REFERENCES opportunities(id) ON DELETE CASCADE,
    kase_id INTEGER REFERENCES kases(id) ON DELETE CASCADE,
    participants TEXT NOT NULL DEFAULT '[]',  -- JSON [{address, name, role}]
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    CHECK ((party_id IS NOT NULL) + (opportunity_id IS NOT NULL) + (kase_id IS NOT NULL) = 1));
CREATE INDEX IF NOT EXISTS entries_by_party ON entries (party_id, entry_at);
CREATE INDEX IF NOT EXISTS entries_by_opportunity ON entries (opportunity_id, entry_at);
CREATE INDEX IF NOT EXISTS entries_by_kase ON entries (kase_id, entry_at);

-- What GET /{entity}/deleted reports.
CREATE TABLE IF NOT EXISTS deletions (
    entity TEXT NOT NULL, record_id INTEGER NOT NULL, deleted_at TEXT NOT NULL,
    PRIMARY KEY (entity, record_id));
"""

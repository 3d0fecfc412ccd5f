-- 002_users: people (and the system admin) who sign in. Passwords are stored only as
-- argon2id PHC strings; e-mail addresses are unique regardless of case.

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    display_name    text NOT NULL DEFAULT '',
    password_hash   text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2%'),
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin', 'system_admin')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_organization_idx ON users (organization_id);

CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

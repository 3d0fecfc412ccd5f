-- seed 002: the system admin. migrate-ledger generates the password, passes only its argon2id
-- hash as the session setting devenv.admin_password_hash, and shows the password once.
-- An existing admin is left alone (its password is never reset by seeding).
INSERT INTO users (organization_id, email, display_name, password_hash, role)
SELECT o.id,
       current_setting('devenv.admin_email'),
       'System administrator',
       current_setting('devenv.admin_password_hash'),
       'system_admin'
FROM organizations o
WHERE o.slug = 'devenv'
ON CONFLICT (lower(email)) DO NOTHING;

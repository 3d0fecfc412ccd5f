-- seed 001: the bootstrap organization that owns the system admin and the default mappings.
INSERT INTO organizations (slug, name)
VALUES ('devenv', 'devenv bootstrap organization')
ON CONFLICT (slug) DO NOTHING;

-- The renewal sweep looks up a page of domains' renewal operations by domain id (see
-- domain_automation::due_for_renewal); the older index leads with the tenant.
CREATE INDEX domain_operations_renewals ON domain_operations (domain_id, operation, expiry_before);

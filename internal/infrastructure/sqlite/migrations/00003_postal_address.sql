-- orders.postal_address: the structure of a structured shipping address,
-- protobuf JSON of order.v1.PostalAddress; NULL for an address given as free
-- text. shipping_address keeps the address as text either way (the formatted
-- structure, or the free text exactly as given), so readers of the seed's
-- column see what they always saw. Additive: no existing column changes.

-- +goose Up
ALTER TABLE orders ADD COLUMN postal_address TEXT;

-- +goose Down
ALTER TABLE orders DROP COLUMN postal_address;

-- The schema published in the service README (the seed), verbatim: these tables,
-- columns, types, defaults and index names are a promise to the service's users.
-- Never edit this file; every later change is a new migration.
--
-- IF NOT EXISTS is the only liberty taken: a database created by hand from the
-- README is adopted as version 1 instead of failing the first deployment.

-- +goose Up
CREATE TABLE IF NOT EXISTS orders (
  id UUID PRIMARY KEY,
  user_id VARCHAR(255) NOT NULL,
  total_amount DECIMAL(10,2) NOT NULL,
  status VARCHAR(50) NOT NULL,
  shipping_address TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  version INT NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS order_items (
  id UUID PRIMARY KEY,
  order_id UUID REFERENCES orders(id),
  product_id VARCHAR(255) NOT NULL,
  product_name VARCHAR(255) NOT NULL,
  quantity INT NOT NULL,
  unit_price DECIMAL(10,2) NOT NULL,
  subtotal DECIMAL(10,2) NOT NULL
);

CREATE TABLE IF NOT EXISTS order_events (
  id UUID PRIMARY KEY,
  aggregate_id UUID NOT NULL,
  event_type VARCHAR(100) NOT NULL,
  data JSONB NOT NULL,
  user_id VARCHAR(255) NOT NULL,
  timestamp TIMESTAMP NOT NULL,
  version INT NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_orders_user_id ON orders(user_id);
CREATE INDEX IF NOT EXISTS idx_order_events_aggregate_id ON order_events(aggregate_id);

-- +goose Down
DROP TABLE IF EXISTS order_events;
DROP TABLE IF EXISTS order_items;
DROP TABLE IF EXISTS orders;

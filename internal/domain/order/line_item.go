package order

// LineItem is one product line of an order, shaped like the seed's
// order_items row. An order holds at most one line per product.
type LineItem struct {
	id          ID
	productID   string
	productName string
	quantity    Quantity
	unitPrice   Money
	subtotal    Money
}

// NewLineItem validates a line and computes its subtotal. The id is assigned
// by the caller's id source.
func NewLineItem(id ID, productID, productName string, quantity int64, unitPrice Money) (LineItem, error) {
	if id.IsZero() {
		return LineItem{}, invalid("item.id", "must not be the nil UUID")
	}
	if err := checkText("product_id", productID, MaxIdentifierLen, false); err != nil {
		return LineItem{}, err
	}
	if err := checkText("product_name", productName, MaxIdentifierLen, false); err != nil {
		return LineItem{}, err
	}
	q, err := NewQuantity(quantity)
	if err != nil {
		return LineItem{}, err
	}
	if unitPrice.currency == "" {
		return LineItem{}, invalid("unit_price", "must have a currency")
	}
	return newLine(id, productID, productName, q, unitPrice)
}

func newLine(id ID, productID, productName string, q Quantity, unitPrice Money) (LineItem, error) {
	subtotal, err := unitPrice.Times(q)
	if err != nil {
		return LineItem{}, invalid("quantity", "subtotal %s × %d exceeds %s", unitPrice, q.n, formatMinor(MaxAmount))
	}
	return LineItem{id: id, productID: productID, productName: productName, quantity: q, unitPrice: unitPrice, subtotal: subtotal}, nil
}

// ID identifies the line (the seed's order_items.id).
func (l LineItem) ID() ID { return l.id }

// ProductID identifies the product.
func (l LineItem) ProductID() string { return l.productID }

// ProductName is the product's name as it was when ordered.
func (l LineItem) ProductName() string { return l.productName }

// Quantity is the number of units.
func (l LineItem) Quantity() Quantity { return l.quantity }

// UnitPrice is the price of one unit.
func (l LineItem) UnitPrice() Money { return l.unitPrice }

// Subtotal is UnitPrice × Quantity.
func (l LineItem) Subtotal() Money { return l.subtotal }

// withQuantity returns the line with another quantity and its new subtotal.
func (l LineItem) withQuantity(q Quantity) (LineItem, error) {
	return newLine(l.id, l.productID, l.productName, q, l.unitPrice)
}

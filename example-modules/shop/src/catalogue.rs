//! What the shop sells: a fixed catalogue, each item with an id (the invoice's payload), a
//! name, a description and a price in stars.

/// One thing for sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Its id: the invoice's payload and the button's data.
    pub id: &'static str,
    /// Its name, on the button and the invoice (at most 32 characters).
    pub name: &'static str,
    /// What it is, on the invoice.
    pub description: &'static str,
    /// Its price in stars.
    pub stars: u32,
}

/// The catalogue, in the order `/shop` lists it.
pub const ITEMS: &[Item] = &[
    Item {
        id: "stickers",
        name: "Sticker pack",
        description: "Twelve hand-drawn stickers of the botbox crab.",
        stars: 25,
    },
    Item {
        id: "theme",
        name: "Night theme",
        description: "A dark theme for the bot's messages.",
        stars: 50,
    },
    Item {
        id: "coffee",
        name: "A coffee for the developers",
        description: "Keeps the bot's developers awake. Thank you!",
        stars: 100,
    },
];

/// The item with `id`.
pub fn item(id: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|i| i.id == id)
}

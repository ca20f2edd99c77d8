"""What talosnb works out from loaded inputs: findings (rules as data), module-list checks,
the arch comparison, search, and edits with their explanations."""

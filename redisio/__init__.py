"""Redis: every key (keys), round trips described (calls), the clients that run them."""

"""Parameter studies: sweep specs, the results store, and the engines that run them."""

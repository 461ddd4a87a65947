"""Development tools beside the hub: fall-detector evaluation on the recorded datasets; not shipped in `hub`."""

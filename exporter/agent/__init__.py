"""The node agent's log side: CRI files under /var/log/pods, followed through kubelet's rotations, exactly."""

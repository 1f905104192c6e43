/** Payloads from the guide the product implements (spec/seed-kube-proxy-customization.txt). */

/** The kube-proxy customization of the guide's create and reset examples. */
export const GUIDE_KUBE_PROXY = Object.freeze({
  iptables: { minSyncPeriod: 'PT1S', syncPeriod: 'PT30S' },
  ipvs: {
    minSyncPeriod: 'PT0S',
    scheduler: 'rr',
    syncPeriod: 'PT30S',
    tcpFinTimeout: 'PT0S',
    tcpTimeout: 'PT0S',
    udpTimeout: 'PT0S',
  },
});

/** The guide's create payload: an IPVS cluster in GRA5 with that customization. */
export const GUIDE_CREATE = Object.freeze({
  region: 'GRA5',
  name: 'my-super-cluster',
  kubeProxyMode: 'ipvs',
  customization: { kubeProxy: GUIDE_KUBE_PROXY },
});

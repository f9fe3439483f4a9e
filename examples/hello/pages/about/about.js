Page({
  data: { text: 'Shipped over the air by mpship: signed manifests, zstd packages, one 304 when nothing changed.' }
})

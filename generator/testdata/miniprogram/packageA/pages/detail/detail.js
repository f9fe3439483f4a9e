Page({ data: { text: 'detail, loaded from a subpackage' } })

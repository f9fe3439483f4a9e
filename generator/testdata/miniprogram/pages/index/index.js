const { greet } = require('../../utils/util.js')

Page({
  data: { motto: greet('mpship') },
  open() {
    wx.navigateTo({ url: '/packageA/pages/detail/detail' })
  },
})

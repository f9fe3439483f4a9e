const app = getApp()

Page({
  data: { greeting: 'Hello from mpship', version: app.globalData.version },
  onTapAbout() {
    wx.navigateTo({ url: '/pages/about/about' })
  }
})

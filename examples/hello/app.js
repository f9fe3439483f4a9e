// The example mini program that `make demo` publishes twice.
const { VERSION } = require('./utils/version.js')

App({
  onLaunch() {
    const updateManager = wx.getUpdateManager()
    updateManager.onCheckForUpdate((res) => {
      console.log('update available:', res.hasUpdate)
    })
    updateManager.onUpdateReady(() => {
      wx.showModal({
        title: 'Update ready',
        content: 'A new version is ready. Restart now?',
        success(res) {
          if (res.confirm) updateManager.applyUpdate()
        }
      })
    })
    updateManager.onUpdateFailed((err) => {
      console.warn('update failed, staying on', VERSION, err)
    })
  },
  globalData: { version: VERSION }
})

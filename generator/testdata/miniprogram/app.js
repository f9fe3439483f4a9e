App({
  onLaunch() {
    console.log('launched')
  },
})

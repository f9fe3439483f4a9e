module.exports = { VERSION: '1.0.0' }

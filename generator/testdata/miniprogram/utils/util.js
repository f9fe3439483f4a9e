module.exports.greet = (name) => `hello, ${name}`

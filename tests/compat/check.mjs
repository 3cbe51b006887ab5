// The compat scripts' one check: runs `fn`, prints "ok   <name>" or "FAIL <name>: <why>" (with
// the server's error body when the client kept one) and exits 1 on the first failure.
export const check = async (name, fn) => {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (error) {
    console.log(`FAIL ${name}: ${error?.stack ?? error}`);
    if (error?.data) console.log(JSON.stringify(error.data));
    process.exit(1);
  }
};

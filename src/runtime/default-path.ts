/**
 * Default PATH inside run steps and of images without one, as stacker (LXC) sets it. A module of
 * its own so config assembly can use it without loading the process machinery (execa).
 */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

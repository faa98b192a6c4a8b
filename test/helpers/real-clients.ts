/**
 * Transformation strings that real client libraries generate, as they generate them (key order
 * and all). The yardstick: every one answers 200, except those that need a generative
 * or background-removal model (`model: true`), which stay a clear 400 (background removal: 200 while APERTURE_BGREMOVAL is on).
 *
 * Sources:
 * - `@cloudinary/html` placeholder plugin (PLACEHOLDER_IMAGE_OPTIONS in its internalConstants),
 *   shared by `@cloudinary/react`, `/vue` and `/angular`; its responsive plugin's width steps.
 * - next-cloudinary's `getCldImageUrl` (CldImage): defaults, crops, effects props, overlays,
 *   underlays, `defaultImage`, and its AI props.
 * - cloudinary-core / the Node SDK's responsive helpers (`w_auto`, `dpr_auto`, breakpoints).
 */
/** `model`: needs a model we do not run (400); `'bgremoval'`: the background removal model (200 while APERTURE_BGREMOVAL is on). */
export interface ClientUrl { client: string; transformation: string; id?: string; model?: true | 'bgremoval' }

export const REAL_CLIENT_URLS: readonly ClientUrl[] = [
  // @cloudinary/html plugins
  { client: 'html placeholder vectorize', transformation: 'e_vectorize/q_auto/f_svg' },
  { client: 'html placeholder pixelate', transformation: 'e_pixelate/q_auto/f_auto' },
  { client: 'html placeholder blur', transformation: 'e_blur:2000/q_auto/f_auto' },
  { client: 'html placeholder predominant-color', transformation: 'ar_1,b_auto,c_pad,w_iw_div_2/c_crop,g_north_east,h_1,w_1/c_fill,h_ih,w_iw/q_auto/f_auto' },
  { client: 'html responsive step', transformation: 'c_scale,w_400' },
  { client: 'html responsive step after user transformation', transformation: 'e_sepia/c_scale,w_800' },
  // next-cloudinary CldImage / getCldImageUrl
  { client: 'next default', transformation: 'c_limit,w_960/f_auto/q_auto' },
  { client: 'next crop fill', transformation: 'c_fill,w_960,h_600,g_auto/f_auto/q_auto' },
  { client: 'next crop thumb faces', transformation: 'c_thumb,w_400,h_400,g_faces/f_auto/q_auto' },
  { client: 'next defaultImage', transformation: 'c_limit,w_960/d_avatar.png/f_auto/q_auto', id: 'missing-image.jpg' },
  { client: 'next art', transformation: 'e_art:sonnet/c_limit,w_960/f_auto/q_auto' },
  { client: 'next autoBrightness', transformation: 'e_auto_brightness/c_limit,w_960/f_auto/q_auto' },
  { client: 'next autoColor', transformation: 'e_auto_color/c_limit,w_960/f_auto/q_auto' },
  { client: 'next autoContrast', transformation: 'e_auto_contrast/c_limit,w_960/f_auto/q_auto' },
  { client: 'next assistColorblind', transformation: 'e_assist_colorblind/c_limit,w_960/f_auto/q_auto' },
  { client: 'next blackwhite', transformation: 'e_blackwhite/c_limit,w_960/f_auto/q_auto' },
  { client: 'next blur', transformation: 'e_blur:1000/c_limit,w_960/f_auto/q_auto' },
  { client: 'next blurFaces', transformation: 'e_blur_faces/c_limit,w_960/f_auto/q_auto' },
  { client: 'next brightness', transformation: 'e_brightness:40/c_limit,w_960/f_auto/q_auto' },
  { client: 'next cartoonify', transformation: 'e_cartoonify/c_limit,w_960/f_auto/q_auto' },
  { client: 'next colorize', transformation: 'co_blue,e_colorize:40/c_limit,w_960/f_auto/q_auto' },
  { client: 'next contrast', transformation: 'e_contrast:50/c_limit,w_960/f_auto/q_auto' },
  { client: 'next distort', transformation: 'e_distort:40:25:280:60:260:155:35:165/c_limit,w_960/f_auto/q_auto' },
  { client: 'next fillLight', transformation: 'e_fill_light/c_limit,w_960/f_auto/q_auto' },
  { client: 'next gradientFade', transformation: 'e_gradient_fade/c_limit,w_960/f_auto/q_auto' },
  { client: 'next grayscale', transformation: 'e_grayscale/c_limit,w_960/f_auto/q_auto' },
  { client: 'next improve', transformation: 'e_improve/c_limit,w_960/f_auto/q_auto' },
  { client: 'next negate', transformation: 'e_negate/c_limit,w_960/f_auto/q_auto' },
  { client: 'next oilPaint', transformation: 'e_oil_paint/c_limit,w_960/f_auto/q_auto' },
  { client: 'next outline', transformation: 'co_black,e_outline/c_limit,w_960/f_auto/q_auto' },
  { client: 'next pixelateFaces', transformation: 'e_pixelate_faces/c_limit,w_960/f_auto/q_auto' },
  { client: 'next replaceColor', transformation: 'e_replace_color:blue:80:red/c_limit,w_960/f_auto/q_auto' },
  { client: 'next sepia', transformation: 'e_sepia/c_limit,w_960/f_auto/q_auto' },
  { client: 'next shadow', transformation: 'co_black,e_shadow/c_limit,w_960/f_auto/q_auto' },
  { client: 'next sharpen', transformation: 'e_sharpen/c_limit,w_960/f_auto/q_auto' },
  { client: 'next shear', transformation: 'e_shear:40:0/c_limit,w_960/f_auto/q_auto' },
  { client: 'next simulateColorblind', transformation: 'e_simulate_colorblind/c_limit,w_960/f_auto/q_auto' },
  { client: 'next tint', transformation: 'e_tint:100:blue:green:red/c_limit,w_960/f_auto/q_auto' },
  { client: 'next vignette', transformation: 'e_vignette/c_limit,w_960/f_auto/q_auto' },
  { client: 'next text overlay', transformation: 'l_text:Arial_60_bold:Hello,co_white/fl_layer_apply,g_south,y_20/c_limit,w_960/f_auto/q_auto' },
  { client: 'next image overlay', transformation: 'l_sample,w_200/fl_layer_apply,g_north_east,x_10,y_10/c_limit,w_960/f_auto/q_auto' },
  { client: 'next underlay', transformation: 'u_sample,c_fill,w_960,h_600/fl_layer_apply/c_limit,w_960/f_auto/q_auto' },
  { client: 'next removeBackground', transformation: 'e_background_removal/c_limit,w_960/f_auto/q_auto', model: 'bgremoval' },
  { client: 'next generative fill', transformation: 'b_gen_fill,c_pad,w_960,h_600/f_auto/q_auto', model: true },
  // cloudinary-core / Node SDK responsive helpers
  { client: 'core responsive w_auto', transformation: 'c_scale,dpr_auto,w_auto' },
  { client: 'core responsive breakpoints', transformation: 'c_scale,w_auto:100:400/f_auto' },
  { client: 'node sdk srcset step', transformation: 'c_scale,w_640/f_auto,q_auto' },
];

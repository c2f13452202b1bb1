// dlib_fhog_ref: dlib's own HOG frontal face detector, for lib/face/fhog.c. Built against Debian's
// libdlib-dev by tests/make-fixtures-fhog.py and bench/face-detectors.sh only (never by make).
//
//   dlib_fhog_ref weights          write the detector (get_frontal_face_detector()) as the text
//                                  file lib/face/fhog.c reads (formats/fhog-model.md) to stdout
//   dlib_fhog_ref detect < list    each input line is a binary PPM (RGB); run the detector as
//                                  face_recognition.face_locations(img, 1, "hog") does (the
//                                  Python binding's upsample path: pyramid_up with pyramid_down<2>,
//                                  adjust_threshold 0, boxes mapped back with rect_down) and print
//                                  "PATH left top right bottom score weight_index" per face,
//                                  or "PATH -" when there is none; also "# PATH up W H S" (the
//                                  upsampled size and the CPU seconds pyramid_up + detection took,
//                                  for bench/face-detectors.sh).
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/revision.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>

typedef dlib::scan_fhog_pyramid<dlib::pyramid_down<6>> scanner_t;

static void print_vector(const char *tag, const dlib::matrix<float, 0, 1> &v)
{
    std::printf("%s", tag);
    for (long i = 0; i < v.size(); i++) std::printf(" %.9g", v(i));
    std::printf("\n");
}

static int weights()
{
    dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
    const scanner_t &sc = det.get_scanner();
    const long fw = (long)sc.get_fhog_window_width(), fh = (long)sc.get_fhog_window_height();
    std::printf("dfs-fhog-model 1\n");
    std::printf("# dlib %d.%d get_frontal_face_detector(), written by tests/dlib_fhog_ref.cpp\n",
                DLIB_MAJOR_VERSION, DLIB_MINOR_VERSION);
    std::printf("cell_size %lu\npadding %lu\nwindow %lu %lu\nfilter %ld %ld\n", sc.get_cell_size(),
                sc.get_padding(), sc.get_detection_window_width(), sc.get_detection_window_height(), fw, fh);
    std::printf("pyramid_down 6\nmax_levels %lu\nmin_layer %lu %lu\n", sc.get_max_pyramid_levels(),
                sc.get_min_pyramid_layer_width(), sc.get_min_pyramid_layer_height());
    std::printf("overlap %.17g %.17g\n", det.get_overlap_tester().get_iou_thresh(),
                det.get_overlap_tester().get_percent_covered_thresh());
    std::printf("detectors %lu\n", det.num_detectors());
    for (unsigned long d = 0; d < det.num_detectors(); d++) {
        const dlib::matrix<double, 0, 1> &w = det.get_w(d);
        const long dims = sc.get_num_dimensions();
        scanner_t::fhog_filterbank fb = sc.build_fhog_filterbank(w);
        // scan_fhog_pyramid's apply_filters_to_fhog runs the full filters when the separable
        // terms would cost more; lib/face/fhog.c implements the separable path only
        const bool full = fb.num_separable_filters() > fb.filters.size() * std::min(fb.filters[0].nr(), fb.filters[0].nc()) / 3.0;
        if (full) { std::cerr << "dlib_fhog_ref: detector " << d << " uses full filters\n"; return 1; }
        std::printf("detector %lu threshold %.17g planes %lu terms %lu\n", d, w(dims), fb.filters.size(),
                    fb.num_separable_filters());
        for (unsigned long p = 0; p < fb.row_filters.size(); p++)
            for (unsigned long j = 0; j < fb.row_filters[p].size(); j++) {
                std::printf("term %lu\n", p);
                print_vector("row", fb.row_filters[p][j]);
                print_vector("col", fb.col_filters[p][j]);
            }
    }
    std::printf("end\n");
    return 0;
}

static bool read_ppm(const std::string &path, dlib::array2d<dlib::rgb_pixel> &img)
{
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    long w, h, maxval;
    if (!(f >> magic >> w >> h >> maxval) || magic != "P6" || maxval != 255) return false;
    f.get();
    img.set_size(h, w);
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            unsigned char p[3];
            if (!f.read(reinterpret_cast<char *>(p), 3)) return false;
            img[y][x] = dlib::rgb_pixel(p[0], p[1], p[2]);
        }
    return true;
}

static int detect()
{
    dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
    std::string path;
    while (std::getline(std::cin, path)) {
        dlib::array2d<dlib::rgb_pixel> img, up;
        if (!read_ppm(path, img)) { std::cerr << "dlib_fhog_ref: " << path << ": not a binary PPM\n"; return 1; }
        dlib::pyramid_down<2> pyr;
        std::clock_t t0 = std::clock();
        dlib::pyramid_up(img, up, pyr);
        std::vector<dlib::rect_detection> dets;
        det(up, dets, 0.0);
        const double dt = (double)(std::clock() - t0) / CLOCKS_PER_SEC;
        std::printf("# %s up %ld %ld %.6f\n", path.c_str(), up.nc(), up.nr(), dt);
        if (dets.empty()) std::printf("%s -\n", path.c_str());
        for (auto &d : dets) {
            dlib::rectangle r = pyr.rect_down(d.rect, 1);
            std::printf("%s %ld %ld %ld %ld %.9g %lu\n", path.c_str(), r.left(), r.top(), r.right(), r.bottom(),
                        d.detection_confidence, d.weight_index);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    std::string mode = argc == 2 ? argv[1] : "";
    if (mode == "weights") return weights();
    if (mode == "detect") return detect();
    std::cerr << "usage: dlib_fhog_ref weights > model.txt | dlib_fhog_ref detect < ppm-list\n";
    return 2;
}
